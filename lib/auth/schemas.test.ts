import { describe, expect, it } from "vitest";
import { safeNextPath } from "./schemas";

describe("safeNextPath", () => {
  it("keeps paths on this site", () => {
    expect(safeNextPath("/acme/settings?tab=1#x")).toBe("/acme/settings?tab=1#x");
    expect(safeNextPath("/invite/abc")).toBe("/invite/abc");
  });

  it.each([
    "//evil.example",
    "/\\evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "https://evil.example/",
    "javascript:alert(1)",
    "",
    undefined,
    "/%09/evil.example",
  ])("sends %j home instead", (next) => {
    const safe = safeNextPath(next);
    expect(new URL(safe, "https://coffer.example").origin).toBe("https://coffer.example");
  });
});
