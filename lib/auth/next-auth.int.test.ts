import { NextRequest } from "next/server";
import { describe, expect, it, vi } from "vitest";

vi.hoisted(() => {
  process.env.APP_URL = "https://coffer.example.test";
});

const { handlers } = await import("./next-auth");

describe("Auth.js cookies", () => {
  it("are Secure when APP_URL is https, even if the proxy in front does not say the request came over TLS", async () => {
    // A TLS-terminating proxy that drops X-Forwarded-Proto hands Coffer a plain http request.
    const response = await handlers.GET(new NextRequest("http://coffer.example.test/api/auth/csrf"));
    const cookies = response.headers.getSetCookie();
    const csrf = cookies.find((c) => c.includes("authjs.csrf-token="));
    expect(csrf).toMatch(/^__Host-authjs\.csrf-token=/);
    expect(csrf).toMatch(/; Secure/i);
  });
});
