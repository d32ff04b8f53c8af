import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signedUpUser } from "@/test/factories";
import { startSmtp } from "@/test/servers/smtp";
import { setMutedMail } from "../notifications/preferences";
import type { TeamContext } from "../teams/context";
import { acceptInvitation, createInvitation } from "../teams/invitations";
import { createChannel } from "./channels";
import { sendTest } from "./deliveries";

let smtp: Awaited<ReturnType<typeof startSmtp>>;

beforeAll(async () => {
  smtp = await startSmtp();
  // Before anything reads the configuration: this file runs with e-mail configured.
  process.env.SMTP_URL = smtp.url;
  process.env.MAIL_FROM = "Coffer <coffer@example.test>";
});
afterAll(() => smtp?.stop());

type User = Awaited<ReturnType<typeof signedUpUser>>;
/** Opts `u` out of the e-mails of the event Send test sends. */
const muteTestEvent = (u: User) =>
  setMutedMail(
    { userId: u.userId, email: u.email, name: "x", sessionId: null, ip: null },
    { muted: ["backup.succeeded"] },
  );

/** What an admin sees when pressing Send test on a new e-mail channel, and who got mail. */
async function sendTestTo(t: TeamContext, recipients: { roles?: ("member" | "owner")[]; addresses: string[] }) {
  const { id } = await createChannel(t, { kind: "email", description: "", events: [], roles: [], ...recipients });
  const before = smtp.messages.length;
  const { latencyMs: _latency, ...answer } = await sendTest(t, id);
  const to = smtp.messages
    .slice(before)
    .flatMap((m) => m.to)
    .sort();
  return { answer, to };
}

describe("e-mail channel recipients", () => {
  it("a listed address whose account is in another team is mailed whatever it muted, like an unknown address", async () => {
    const owner = await signedUpUser("Olga");
    const t = await owner.team("owner");
    const outsider = await signedUpUser("Bob"); // a member of his own team only
    await muteTestEvent(outsider);
    const unknown = `nobody-${randomBytes(4).toString("hex")}@example.test`;

    const toOutsider = await sendTestTo(t, { addresses: [outsider.email] });
    const toUnknown = await sendTestTo(t, { addresses: [unknown] });
    expect(toOutsider.to).toEqual([outsider.email]);
    expect(toUnknown.to).toEqual([unknown]);
    expect(toOutsider.answer).toMatchObject({
      ok: true,
      error: null,
      body: expect.stringContaining("Sent to 1 recipient"),
    });
    expect(toOutsider.answer).toEqual(toUnknown.answer);
  });

  it("the channel's team's own members who opted out are still left out, listed or by role", async () => {
    const owner = await signedUpUser("Olga");
    const t = await owner.team("owner");
    const member = await signedUpUser("Mia");
    const inv = await createInvitation(t, { email: member.email, role: "member" });
    await acceptInvitation(member.actor, member.email, inv.link.split("/invite/")[1]!);
    await muteTestEvent(member);

    const byRoleAndAddress = await sendTestTo(t, {
      roles: ["member"],
      addresses: [member.email, "oncall@example.test"],
    });
    expect(byRoleAndAddress.to).toEqual(["oncall@example.test"]);
    const onlyHer = await sendTestTo(t, { addresses: [member.email] });
    expect(onlyHer.to).toEqual([]);
    expect(onlyHer.answer).toMatchObject({
      ok: true,
      body: "Nobody to e-mail: every recipient opted out of this event.",
    });
  });
});
