import { describe, expect, it } from "vitest";
import { fasterGzipHint, gzipToolOf } from "./gzip-tool";

describe("the gzip tool a server's backups use", () => {
  it("is igzip, else pigz, else gzip", () => {
    expect(gzipToolOf(["tar", "gzip", "pigz", "igzip"])).toBe("igzip");
    expect(gzipToolOf(["tar", "gzip", "pigz"])).toBe("pigz");
    expect(gzipToolOf(["tar", "gzip"])).toBe("gzip");
    expect(gzipToolOf(["tar"])).toBeUndefined();
  });

  it("names the install command of the server's package manager, or Debian/Ubuntu's, saying so", () => {
    expect(fasterGzipHint("apt-get")).toContain("install it with apt-get install isal, or install pigz.");
    expect(fasterGzipHint("dnf")).toContain("install it with dnf install isa-l, or");
    expect(fasterGzipHint("yum")).toContain("install it with yum install isa-l, or");
    expect(fasterGzipHint("apk")).toContain("install it with apk add isa-l, or");
    expect(fasterGzipHint(undefined)).toContain("install it with apt-get install isal (on Debian/Ubuntu), or");
  });
});
