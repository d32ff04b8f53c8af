import { describe, expect, it } from "vitest";
import { attachment } from "./attachment";

describe("attachment", () => {
  it("names a plain file as it is", () => {
    expect(attachment("db-1-20261207-101500.tar.gz")).toBe('attachment; filename="db-1-20261207-101500.tar.gz"');
  });

  it("sends any other name in UTF-8 with an ASCII fallback, in a value a Response accepts", () => {
    for (const [name, header] of [
      [
        "Sicherung März.tar.gz",
        `attachment; filename="Sicherung M_rz.tar.gz"; filename*=UTF-8''Sicherung%20M%C3%A4rz.tar.gz`,
      ],
      ["備份.tar.gz", `attachment; filename="__.tar.gz"; filename*=UTF-8''%E5%82%99%E4%BB%BD.tar.gz`],
      [
        'say "hi" (1)\\.tar.gz',
        `attachment; filename="say _hi_ (1)_.tar.gz"; filename*=UTF-8''say%20%22hi%22%20%281%29%5C.tar.gz`,
      ],
    ]) {
      expect(attachment(name!)).toBe(header);
      expect(
        new Response(null, { headers: { "Content-Disposition": attachment(name!) } }).headers.get(
          "content-disposition",
        ),
      ).toBe(header);
    }
    // What the header was before: Node refuses a name beyond Latin-1.
    expect(
      () => new Response(null, { headers: { "Content-Disposition": 'attachment; filename="備份.tar.gz"' } }),
    ).toThrow();
  });
});
