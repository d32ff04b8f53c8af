import { createServer, type Server, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sendMailEach } from "./mail";

// A mail server that takes the connection and never says a word.
let silent: Server;
const sockets: Socket[] = [];

beforeAll(async () => {
  silent = createServer((socket) => void sockets.push(socket));
  await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
  // Before anything reads the configuration: this file runs with e-mail configured.
  process.env.SMTP_URL = `smtp://127.0.0.1:${(silent.address() as AddressInfo).port}`;
  process.env.MAIL_FROM = "Coffer <coffer@example.test>";
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((resolve) => silent.close(resolve));
});

describe("e-mail", () => {
  it("gives up on a mail server that does not answer after 10 s, not nodemailer's minutes", async () => {
    const started = Date.now();
    await expect(sendMailEach(["ops@example.test"], { subject: "s", text: "t" })).rejects.toMatchObject({
      code: "ETIMEDOUT",
    });
    expect(Date.now() - started).toBeLessThan(20_000);
  }, 60_000);
});
