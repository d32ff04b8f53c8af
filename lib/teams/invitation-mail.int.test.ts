import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signedUpUser } from "@/test/factories";
import { startSmtp } from "@/test/servers/smtp";
import { createInvitation, listOpenInvitations, resendInvitation } from "./invitations";

let smtp: Awaited<ReturnType<typeof startSmtp>>;
/** Whether the mail server refuses Coffer's sender address for now. */
let senderRefused = false;

beforeAll(async () => {
  smtp = await startSmtp({
    refuse: (a) => a.startsWith("gone."),
    defer: (a) => a.startsWith("grey."),
    refuseSender: () => senderRefused,
  });
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
    expect(inv.mail).toEqual({ sent: true });
    const invited = () => smtp.messages.filter((m) => m.to.includes("new.person@example.test")); // Alice got her verification link
    expect(invited()).toHaveLength(1);
    expect(invited()[0]).toMatchObject({ from: "coffer@example.test", to: ["new.person@example.test"] });
    expect(invited()[0]!.subject).toBe("You are invited to Alice Ops on Coffer");
    expect(invited()[0]!.text).toContain(inv.link);

    const again = await resendInvitation(t, inv.id);
    expect(invited()).toHaveLength(2);
    expect(invited()[1]!.text).toContain(again.link);
  });

  it("says why when the mail server does not take it, and the invitation stands on its link", async () => {
    const a = await signedUpUser("Bea");
    const t = await a.team("admin");
    const refused = await createInvitation(t, { email: "gone.person@example.test", role: "member" });
    expect(refused.mail).toEqual({
      sent: false,
      why: expect.stringMatching(/^the mail server refused it \(550 No such user/),
    });
    const deferred = await createInvitation(t, { email: "grey.person@example.test", role: "member" });
    expect(deferred.mail).toEqual({
      sent: false,
      why: expect.stringMatching(/^the mail server did not take it for now \(451 Greylisted/),
    });
    expect((await listOpenInvitations(t)).map((i) => i.email).sort()).toEqual([
      "gone.person@example.test",
      "grey.person@example.test",
    ]);
    expect((await resendInvitation(t, refused.id)).mail.sent).toBe(false);

    // A sender the server refuses is Coffer's setup, not the invitee's address.
    senderRefused = true;
    try {
      const unsent = await createInvitation(t, { email: "someone@example.test", role: "member" });
      expect(unsent.mail).toEqual({
        sent: false,
        why: expect.stringMatching(
          /^the mail server refused Coffer's sender address \(MAIL_FROM\) \(553 Sender address rejected.*\): the operator checks SMTP_URL and MAIL_FROM$/,
        ),
      });
    } finally {
      senderRefused = false;
    }
  });
});
