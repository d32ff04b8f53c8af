import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signedUpUser } from "@/test/factories";
import { startSmtp } from "@/test/servers/smtp";
import { createInvitation, resendInvitation } from "./invitations";

let smtp: Awaited<ReturnType<typeof startSmtp>>;

beforeAll(async () => {
  smtp = await startSmtp();
  // Before anything reads the configuration: this file runs with e-mail configured.
  process.env.SMTP_URL = smtp.url;
  process.env.MAIL_FROM = "Coffer <coffer@example.test>";
});
afterAll(() => smtp?.stop());

describe("invitation e-mail", () => {
  it("sends the link when SMTP is configured, and a fresh one on resend", async () => {
    const a = await signedUpUser("Alice");
    const t = await a.team("admin");
    const inv = await createInvitation(t, { email: "new.person@example.test", role: "member" });
    expect(inv.emailed).toBe(true);
    const invited = () => smtp.messages.filter((m) => m.to.includes("new.person@example.test")); // Alice got her verification link
    expect(invited()).toHaveLength(1);
    expect(invited()[0]).toMatchObject({ from: "coffer@example.test", to: ["new.person@example.test"] });
    expect(invited()[0]!.subject).toBe("You are invited to Alice Ops on Coffer");
    expect(invited()[0]!.text).toContain(inv.link);

    const again = await resendInvitation(t, inv.id);
    expect(invited()).toHaveLength(2);
    expect(invited()[1]!.text).toContain(again.link);
  });
});
