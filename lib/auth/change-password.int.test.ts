import { describe, expect, it } from "vitest";
import { signedUpUser } from "@/test/factories";
import { listAuditEvents } from "../audit/queries";
import { AppError } from "../errors";
import { parseInput } from "../web/input";
import { changePassword } from "./change-password";
import { changePasswordSchema } from "./schemas";
import { authenticate, createSession, userForSession, type UserContext } from "./users";

const refusal = (p: Promise<unknown>) =>
  p.then(
    () => "changed",
    (e: unknown) => (e instanceof AppError ? { code: e.code, message: e.message, fields: e.fieldErrors } : String(e)),
  );

describe("changing the password", () => {
  it("needs the current password, follows sign-up's rules, signs out the other devices and is audited", async () => {
    const a = await signedUpUser("Alice");
    const here = await createSession(a.userId, "203.0.113.7", "Firefox");
    const phone = await createSession(a.userId, "198.51.100.2", "Safari");
    const u: UserContext = { userId: a.userId, email: a.email, name: "Alice", sessionId: here, ip: "203.0.113.7" };

    expect(() => parseInput(changePasswordSchema, { currentPassword: a.password, newPassword: "short" })).toThrow(
      "Use at least 10 characters.",
    );
    expect(() => parseInput(changePasswordSchema, { currentPassword: a.password, newPassword: a.password })).toThrow(
      "Choose a password different from the current one.",
    );
    const newPassword = "a much longer passphrase";
    expect(await refusal(changePassword(u, { currentPassword: "not-it-at-all", newPassword }))).toEqual({
      code: "VALIDATION",
      message: "That is not your current password.",
      fields: { currentPassword: ["Not your current password."] },
    });
    expect(await userForSession(phone)).not.toBeNull(); // nothing changed
    await expect(authenticate(a.email, a.password, null)).resolves.toMatchObject({ id: a.userId });

    expect(await changePassword(u, { currentPassword: a.password, newPassword })).toEqual({ signedOut: 1 });
    expect(await userForSession(phone)).toBeNull();
    expect(await userForSession(here)).toMatchObject({ id: a.userId });
    await expect(authenticate(a.email, newPassword, null)).resolves.toMatchObject({ id: a.userId });
    expect(await refusal(authenticate(a.email, a.password, "203.0.113.9"))).toMatchObject({ code: "UNAUTHENTICATED" });

    const { events } = await listAuditEvents(await a.team("admin"), { action: "account.password_changed" });
    expect(events).toEqual([
      expect.objectContaining({
        actor: a.email,
        targetLabel: a.email,
        details: { otherSessionsEnded: 1 },
      }),
    ]);
    expect(JSON.stringify(events)).not.toContain(newPassword);
  });

  it("guesses at the current password count as failed sign-ins, so an open session cannot be used to find it", async () => {
    const a = await signedUpUser("Bob");
    const u: UserContext = { userId: a.userId, email: a.email, name: "Bob", sessionId: null, ip: "192.0.2.44" };
    const guess = (currentPassword: string) =>
      refusal(changePassword(u, { currentPassword, newPassword: "another long one" }));
    for (let i = 0; i < 3; i++) expect(await guess(`guess-${i}`)).toMatchObject({ code: "VALIDATION" });
    expect(await guess("guess-3")).toMatchObject({ code: "VALIDATION" }); // the fourth: now it must wait
    // Even the right password waits, like a sign-in would.
    expect(await guess(a.password)).toMatchObject({ message: expect.stringMatching(/^Too many failed sign-ins/) });
  });
});
