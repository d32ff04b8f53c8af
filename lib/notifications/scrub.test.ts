import { describe, expect, it } from "vitest";
import { MAX_ERROR_CHARS, scrubError } from "./scrub";

describe("scrubError", () => {
  it("keeps what a reader needs: who failed and why", () => {
    expect(scrubError("Reading of shop (shop-db) failed: permission denied for table secrets")).toBe(
      "Reading of shop (shop-db) failed: permission denied for table secrets",
    );
  });

  it("removes credentials, quoted values, paths and archive member names", () => {
    const out = scrubError(
      'Could not connect to postgres://app:hunter2@db:5432/shop; password=hunter2 ERROR: invalid input syntax for type integer: "4111-1111" at /var/www/secret.txt and files/var/www/a.txt',
    )!;
    expect(out).not.toMatch(/hunter2|4111|secret\.txt|a\.txt/);
    expect(out).toContain('type integer: "…"');
    expect(out).toContain("[path]");
  });

  it("cuts long messages and passes nothing through for nothing", () => {
    expect(scrubError("x".repeat(2000))!.length).toBe(MAX_ERROR_CHARS);
    expect(scrubError(null)).toBeNull();
    expect(scrubError("")).toBeNull();
  });
});
