import { gunzipSync, gzipSync } from "node:zlib";
import { extract } from "tar-stream";
import { describe, expect, it } from "vitest";
import { plainCause } from "./error-text";

const thrown = (f: () => unknown) => {
  try {
    f();
  } catch (err) {
    return err;
  }
  throw new Error("did not throw");
};

/** The error tar-stream gives for `bytes` that are not a tar archive. */
const tarError = (bytes: Buffer) =>
  new Promise<unknown>((resolve) => {
    const x = extract();
    x.on("error", resolve);
    x.on("entry", (_h, s, next) => s.resume().on("end", next));
    x.end(bytes);
  });

describe("plainCause", () => {
  it("says what zlib's and tar-stream's errors mean for the file, never their own words", async () => {
    const notGzip = thrown(() => gunzipSync(Buffer.from("PK\u0003\u0004 a zip file, not gzip")));
    expect((notGzip as Error).message).toBe("incorrect header check");
    expect(plainCause(notGzip, {})).toBe(
      "it is not gzip-compressed data, or that data is damaged (a different format, or changed since it was made)",
    );
    const cut = thrown(() => gunzipSync(gzipSync(Buffer.alloc(100_000, 7)).subarray(0, 40)));
    expect(plainCause(cut, {})).toBe(
      "the file ends before its compressed data does: it was cut short (an interrupted copy or download)",
    );
    const notTar = await tarError(Buffer.alloc(1024, 0x41));
    expect(plainCause(notTar, {})).toBe("it is gzip-compressed, but what is inside is not a complete tar archive");
  });

  it("names file-system failures without their paths, and anything else as unexpected", () => {
    const full = Object.assign(new Error("ENOSPC: no space left on device, write '/srv/coffer/.data/x'"), {
      code: "ENOSPC",
    });
    expect(plainCause(full, {})).toBe("the disk is full");
    expect(plainCause(new Error("something /srv/coffer/.data odd"), {})).toBe(
      "an unexpected error (its details are in Coffer's server log)",
    );
  });
});
