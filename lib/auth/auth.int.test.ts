import { describe, expect, it } from "vitest";
import { signedUpUser } from "@/test/factories";
import { AppError } from "../errors";
import { listTeamsOf } from "../teams/queries";
import {
  authenticate,
  createSession,
  listSessions,
  revokeAllSessions,
  revokeSession,
  signUp,
  userForOAuth,
  userForSession,
} from "./users";

const failSignIn = (email: string, ip: string) =>
  authenticate(email, "wrong-password", ip).then(
    () => "signed in",
    (e: AppError) => e.message,
  );

describe("accounts", () => {
  it("stores only a memory-hard hash and signs in with the right password", async () => {
    const a = await signedUpUser("Alice");
    expect(await authenticate(a.email, a.password, "198.51.100.1")).toEqual({
      id: a.userId,
      email: a.email,
      name: "Alice",
    });
    expect(await failSignIn(a.email, "198.51.100.1")).toBe("That e-mail and password do not match an account.");
    expect(await failSignIn("nobody@example.test", "198.51.100.1")).toBe(
      "That e-mail and password do not match an account.",
    );
  });

  it("refuses a second account for the same e-mail, whatever its case", async () => {
    const a = await signedUpUser("Alice");
    await expect(signUp({ name: "Eve", email: a.email, password: "another-password" })).rejects.toThrow(
      "An account with this e-mail already exists",
    );
  });

  it("locks an account after 5 failed sign-ins, even with the right password, and says for how long", async () => {
    const a = await signedUpUser("Alice");
    for (let i = 0; i < 5; i++) expect(await failSignIn(a.email, `198.51.100.${10 + i}`)).toMatch(/do not match/);
    expect(await failSignIn(a.email, "198.51.100.99")).toBe(
      "Too many failed sign-in attempts for this account. Try again in 15 minutes, or reset your password.",
    );
    await expect(authenticate(a.email, a.password, "198.51.100.99")).rejects.toThrow(
      "Too many failed sign-in attempts for this account",
    );
    // Another account is not affected.
    const b = await signedUpUser("Bob");
    expect((await authenticate(b.email, b.password, "198.51.100.99")).id).toBe(b.userId);
  });

  it("locks an address after 20 failed sign-ins across accounts", async () => {
    const a = await signedUpUser("Alice");
    for (let i = 0; i < 20; i++) await failSignIn(`spray-${i}@example.test`, "192.0.2.66");
    expect(await failSignIn(a.email, "192.0.2.66")).toBe(
      "Too many failed sign-in attempts from your network. Try again in 15 minutes, or reset your password.",
    );
    expect((await authenticate(a.email, a.password, "192.0.2.67")).id).toBe(a.userId);
  });

  it("a success clears the account's failures", async () => {
    const a = await signedUpUser("Alice");
    for (let i = 0; i < 4; i++) await failSignIn(a.email, "198.51.100.1");
    await authenticate(a.email, a.password, "198.51.100.1");
    for (let i = 0; i < 4; i++) expect(await failSignIn(a.email, "198.51.100.1")).toMatch(/do not match/);
  });

  it("sessions can be revoked one by one or everywhere", async () => {
    const a = await signedUpUser("Alice");
    const laptop = await createSession(a.userId, "198.51.100.1", "Laptop");
    const phone = await createSession(a.userId, "198.51.100.2", "Phone");
    expect((await userForSession(laptop))?.id).toBe(a.userId);
    const me = { userId: a.userId, email: a.email, name: "Alice", sessionId: laptop, ip: null };
    expect((await listSessions(me)).map((s) => [s.userAgent, s.current])).toEqual(
      expect.arrayContaining([
        ["Laptop", true],
        ["Phone", false],
      ]),
    );

    await revokeSession(phone);
    expect(await userForSession(phone)).toBeNull();
    expect((await userForSession(laptop))?.id).toBe(a.userId);

    const other = await createSession(a.userId, null, "Tablet");
    expect(await revokeAllSessions(me)).toBe(2);
    expect(await userForSession(laptop)).toBeNull();
    expect(await userForSession(other)).toBeNull();
    expect(await userForSession("ses_doesnotexist")).toBeNull();
  });
});

describe("GitHub / Google identities", () => {
  it("creates a user with their own team once, then signs the same identity in", async () => {
    const identity = { provider: "github", providerAccountId: "4242", email: "Octo@Example.test", name: "Octo" };
    const first = await userForOAuth(identity);
    expect(first.email).toBe("octo@example.test");
    expect(await userForOAuth({ ...identity, email: "changed@example.test" })).toEqual(first);
    expect((await listTeamsOf(first.id)).map((t) => t.role)).toEqual(["owner"]);
  });

  it("never attaches an identity to an existing password account by e-mail alone", async () => {
    const a = await signedUpUser("Alice");
    await expect(
      userForOAuth({ provider: "google", providerAccountId: "g-1", email: a.email, name: "Not Alice" }),
    ).rejects.toThrow(`An account with ${a.email} already exists. Sign in with your password.`);
  });
});
