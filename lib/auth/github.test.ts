import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifiedGitHubUser } from "./github";

// GitHub's REST API as far as sign-in reads it (GET /user, GET /user/emails), on 127.0.0.1: each
// access token stands for one account.
const accounts: Record<string, { user: object; emails: object[] | null }> = {
  verified: {
    user: { id: 1, login: "ada", name: "Ada", email: null },
    emails: [
      { email: "ada@old.example", primary: false, verified: true },
      { email: "ada@example.test", primary: true, verified: true },
    ],
  },
  unverified: {
    // Public address shown, primary not verified yet.
    user: { id: 2, login: "eve", name: "Eve", email: "eve@public.example" },
    emails: [
      { email: "ceo@victim.example", primary: true, verified: false },
      { email: "eve@public.example", primary: false, verified: true },
    ],
  },
  noScope: { user: { id: 3, login: "bob", name: "Bob", email: null }, emails: null },
};

let server: Server;
let api: string;
beforeAll(async () => {
  server = createServer((req, res) => {
    const account = accounts[(req.headers.authorization ?? "").replace(/^Bearer /, "")];
    const body = !account
      ? null
      : req.url === "/user"
        ? account.user
        : req.url === "/user/emails"
          ? account.emails
          : null;
    res.writeHead(body ? 200 : account ? 404 : 401, { "content-type": "application/json" });
    res.end(JSON.stringify(body ?? { message: "Not Found" }));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  api = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => server?.close());

describe("verifiedGitHubUser", () => {
  it("gives the primary address once GitHub verified it", async () => {
    expect(await verifiedGitHubUser({ access_token: "verified" }, api)).toMatchObject({
      id: 1,
      login: "ada",
      email: "ada@example.test",
    });
  });

  it("gives no address while the primary one is unverified, whatever the public one, nor without the e-mail scope", async () => {
    expect(await verifiedGitHubUser({ access_token: "unverified" }, api)).toMatchObject({ id: 2, email: null });
    expect(await verifiedGitHubUser({ access_token: "noScope" }, api)).toMatchObject({ id: 3, email: null });
  });

  it("fails when GitHub refuses the token", async () => {
    await expect(verifiedGitHubUser({ access_token: "revoked" }, api)).rejects.toThrow("GitHub answered 401");
  });
});
