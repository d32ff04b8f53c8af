import { describe, expect, it } from "vitest";
import { requestForgeryRefusal } from "./request-forgery";
import { securityHeaders } from "./security-headers";

const appUrl = "https://coffer.example.com";
const upload = (headers: Record<string, string>, method = "POST") =>
  requestForgeryRefusal(new Request("https://coffer.example.com/api/teams/acme/backups/upload", { method, headers }), {
    appUrl,
    contentTypes: ["application/gzip"],
  });
const fromCoffer = { origin: appUrl, "sec-fetch-site": "same-origin", "content-type": "application/gzip" };

describe("request forgery checks", () => {
  it("let Coffer's own pages through", () => {
    expect(upload(fromCoffer)).toBeUndefined();
    expect(upload({ origin: appUrl, "content-type": "application/gzip" })).toBeUndefined(); // no Sec-Fetch-Site (older browsers)
  });

  it.each([
    ["another site's form", { ...fromCoffer, origin: "https://evil.example", "sec-fetch-site": "cross-site" }],
    ["a sibling subdomain", { ...fromCoffer, origin: "https://x.example.com", "sec-fetch-site": "same-site" }],
    ["a lying Origin", { ...fromCoffer, "sec-fetch-site": "cross-site" }],
    ["no Origin at all", { "content-type": "application/gzip" }],
  ])("refuse %s", (_what, headers) => {
    expect(upload(headers)).toMatchObject({
      code: "FORBIDDEN",
      message: expect.stringMatching(/did not come from Coffer's own pages/),
    });
  });

  it("refuse a body of another type (what a cross-site form could send)", () => {
    expect(upload({ ...fromCoffer, "content-type": "text/plain" })).toMatchObject({
      code: "VALIDATION",
      message: "Send the body as application/gzip (Content-Type), not text/plain.",
    });
  });

  it("do not apply to reads or to API calls with a token", () => {
    expect(upload({ origin: "https://evil.example" }, "GET")).toBeUndefined();
    expect(upload({ authorization: "Bearer cof_abc", "content-type": "application/gzip" })).toBeUndefined();
    expect(upload({ authorization: "Bearer ", "content-type": "application/gzip" })).toMatchObject({
      code: "FORBIDDEN",
    });
  });
});

describe("security headers", () => {
  it("pages: a nonce-only script policy, no framing, no sniffing, a referrer policy; HSTS only behind https", () => {
    const http = securityHeaders({ nonce: "abc123", https: false, development: false });
    expect(http["Content-Security-Policy"]).toContain("script-src 'self' 'nonce-abc123' 'strict-dynamic'");
    expect(http["Content-Security-Policy"]).toContain("frame-ancestors 'none'");
    expect(http["Content-Security-Policy"]).not.toContain("unsafe-eval");
    expect(http).toMatchObject({
      "X-Content-Type-Options": "nosniff",
      "Referrer-Policy": "strict-origin-when-cross-origin",
    });
    expect(http).not.toHaveProperty("Strict-Transport-Security");
    const https = securityHeaders({
      nonce: "abc123",
      https: true,
      development: false,
      formTargets: ["https://github.com"],
    });
    expect(https["Strict-Transport-Security"]).toBe("max-age=63072000; includeSubDomains");
    expect(https["Content-Security-Policy"]).toContain("form-action 'self' https://github.com");
    expect(https["Content-Security-Policy"]).toContain("upgrade-insecure-requests");
  });

  it("routes: no script may run at all", () => {
    expect(securityHeaders({ https: false, development: false })["Content-Security-Policy"]).toBe(
      "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    );
  });
});
