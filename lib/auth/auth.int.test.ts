import { describe, expect, it } from "vitest";
import { signedUpUser } from "@/test/factories";
import { AppError } from "../errors";
import { listTeamsOfUserAllTeams } from "../teams/queries";
import { isEmailVerified } from "./email-verification";
import { changePassword } from "./change-password";
import { signInSchema, signUpSchema } from "./schemas";
import { delaySeconds } from "./throttle";
import {
  authenticate,
  createSession,
  listSessions,
  listSignInEvents,
  newDeviceToken,
  revokeAllSessions,
  revokeSession,
  signUp,
  userForOAuth,
  userForSession,
} from "./users";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

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

  it("refuses a password longer than 200 characters before hashing it", async () => {
    const a = await signedUpUser("Alice");
    await expect(authenticate(a.email, "x".repeat(1_000_000), "198.51.100.1")).rejects.toMatchObject({
      code: "VALIDATION",
      message: "Passwords are at most 200 characters.",
    });
    expect(signInSchema.safeParse({ email: a.email, password: "x".repeat(201) }).error?.issues[0]?.message).toBe(
      "Passwords are at most 200 characters.",
    );
    expect(signUpSchema.safeParse({ name: "E", email: "e@example.test", password: "x".repeat(201) }).success).toBe(
      false,
    );
    expect((await authenticate(a.email, a.password, "198.51.100.1")).id).toBe(a.userId);
  });

  it("failed sign-ins make the account wait, twice as long each time, instead of locking it", async () => {
    const a = await signedUpUser("Alice");
    for (let i = 0; i < 4; i++) expect(await failSignIn(a.email, `198.51.100.${10 + i}`)).toMatch(/do not match/);
    // The fourth failure costs a one-second wait, for the right password too…
    await expect(authenticate(a.email, a.password, "198.51.100.99")).rejects.toThrow(
      "Too many failed sign-ins for this account: wait 1 second, then try again (or reset your password).",
    );
    await sleep(1100);
    expect(await failSignIn(a.email, "198.51.100.20")).toMatch(/do not match/);
    expect(await failSignIn(a.email, "198.51.100.21")).toMatch(/wait 2 seconds/);
    await sleep(2100);
    // …and once it is over the right password works, and clears the account's failures.
    expect((await authenticate(a.email, a.password, "198.51.100.99")).id).toBe(a.userId);
    for (let i = 0; i < 3; i++) expect(await failSignIn(a.email, "198.51.100.1")).toMatch(/do not match/);
    // Another account is not affected.
    const b = await signedUpUser("Bob");
    expect((await authenticate(b.email, b.password, "198.51.100.99")).id).toBe(b.userId);
  });

  it("a browser that signed in to the account before is not held up by someone else's failures", async () => {
    const a = await signedUpUser("Alice");
    for (let i = 0; i < 8; i++) await failSignIn(a.email, `198.51.100.${30 + i}`);
    await expect(authenticate(a.email, a.password, "198.51.100.99")).rejects.toThrow(/wait/);
    const device = (await newDeviceToken(a.email))!;
    expect((await authenticate(a.email, a.password, "198.51.100.99", device)).id).toBe(a.userId);
    // A token for another account, or a forged one, does not count.
    const b = await signedUpUser("Bob");
    for (let i = 0; i < 8; i++) await failSignIn(a.email, `198.51.100.${40 + i}`);
    for (const token of [(await newDeviceToken(b.email))!, "1700000000.forged", "junk"])
      await expect(authenticate(a.email, a.password, "198.51.100.99", token)).rejects.toThrow(/wait/);
  });

  it("a password change ends the known-device tokens issued before it: a browser that knew the old password waits like any other", async () => {
    const a = await signedUpUser("Alice");
    const before = (await newDeviceToken(a.email))!;
    const me = { userId: a.userId, email: a.email, name: "Alice", ip: "198.51.100.99", sessionId: null };
    await changePassword(me, { currentPassword: a.password, newPassword: "a new password, long enough" });
    for (let i = 0; i < 8; i++) await failSignIn(a.email, `198.51.100.${60 + i}`);
    await expect(authenticate(a.email, "a new password, long enough", "198.51.100.99", before)).rejects.toThrow(/wait/);
    const after = (await newDeviceToken(a.email))!;
    expect((await authenticate(a.email, "a new password, long enough", "198.51.100.99", after)).id).toBe(a.userId);
    // An account without a password (GitHub or Google only) gets none.
    expect(await newDeviceToken("nobody@example.test")).toBeNull();
  });

  it("guesses at one account sent at once are checked one at a time: the others are turned away unhashed", async () => {
    const a = await signedUpUser("Alice");
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => failSignIn(a.email, `198.51.100.${80 + i}`)));
    expect(results.filter((r) => r === "That e-mail and password do not match an account.")).toHaveLength(1);
    expect(
      results.filter((r) => r === "Another sign-in to this account is being checked: try again in a few seconds."),
    ).toHaveLength(5);
    // The claim ends with the check: the right password works at once, and clears the failure.
    expect((await authenticate(a.email, a.password, "198.51.100.99")).id).toBe(a.userId);
    for (let i = 0; i < 3; i++) expect(await failSignIn(a.email, "198.51.100.1")).toMatch(/do not match/);
    // With failures that impose waits, a check in progress still says so, not "wait".
    expect(await failSignIn(a.email, "198.51.100.1")).toMatch(/do not match/); // the 4th: 1 s to wait
    await sleep(1100);
    const again = await Promise.all(Array.from({ length: 3 }, () => failSignIn(a.email, "198.51.100.2")));
    expect(again.toSorted()).toEqual([
      "Another sign-in to this account is being checked: try again in a few seconds.",
      "Another sign-in to this account is being checked: try again in a few seconds.",
      "That e-mail and password do not match an account.",
    ]);
  });

  it("an address that fails across many accounts waits, longer each time; other addresses do not", async () => {
    const a = await signedUpUser("Alice");
    for (let i = 0; i < 11; i++) await failSignIn(`spray-${i}@example.test`, "192.0.2.66");
    expect(await failSignIn(a.email, "192.0.2.66")).toBe(
      "Too many failed sign-ins from your network: wait 1 second, then try again (or reset your password).",
    );
    expect((await authenticate(a.email, a.password, "192.0.2.67")).id).toBe(a.userId);
    expect(delaySeconds(12, "ip")).toBe(2);
    expect(delaySeconds(30, "ip")).toBe(900);
    expect(delaySeconds(30, "account")).toBe(300);
  });

  it("failed and refused sign-ins are recorded for the account, never with the password", async () => {
    const a = await signedUpUser("Alice");
    for (let i = 0; i < 4; i++) await failSignIn(a.email, "198.51.100.7");
    await failSignIn(a.email, "198.51.100.7");
    const events = await listSignInEvents({ userId: a.userId });
    expect(events.map((e) => e.outcome)).toEqual(["delayed", "failed", "failed", "failed", "failed"]);
    expect(events[0]).toMatchObject({ ip: "198.51.100.7", details: { scope: "account", waitSeconds: 1 } });
    expect(events[1]).toMatchObject({ details: { waitSeconds: { account: 1, ip: 0 } } });
    expect(JSON.stringify(events)).not.toContain("wrong-password");
  });

  it("during a flood of 200 bad sign-ins across many accounts, a real user still gets in within 5 seconds", async () => {
    const real = await signedUpUser("Real");
    const device = (await newDeviceToken(real.email))!; // set when this browser signed in before
    const victims = await Promise.all(["V1", "V2", "V3", "V4"].map((n) => signedUpUser(n)));
    const flood = Array.from({ length: 200 }, (_, i) =>
      authenticate(
        i % 4 === 0 ? victims[i % victims.length]!.email : `bot-${i}@example.test`,
        `guess-${i}`,
        `198.18.${i >> 8}.${i & 255}`,
      ).then(
        () => "signed in",
        (e: AppError) => e.code,
      ),
    );
    await sleep(50); // the flood has filled the hashing queue
    const started = Date.now();
    const user = await authenticate(real.email, real.password, "203.0.113.50", device);
    const took = Date.now() - started;
    expect(user.id).toBe(real.userId);
    expect(took).toBeLessThan(5000);
    const outcomes = await Promise.all(flood);
    expect(outcomes).not.toContain("signed in");
    expect(new Set(outcomes)).toEqual(new Set(["UNAUTHENTICATED", "RATE_LIMITED"]));
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
    expect((await listTeamsOfUserAllTeams(first.id)).map((t) => t.role)).toEqual(["owner"]);
    expect(await isEmailVerified(first.id)).toBe(true); // the provider verified the address
  });

  it("never attaches an identity to an existing password account by e-mail alone", async () => {
    const a = await signedUpUser("Alice");
    await expect(
      userForOAuth({ provider: "google", providerAccountId: "g-1", email: a.email, name: "Not Alice" }),
    ).rejects.toThrow(`An account with ${a.email} already exists. Sign in with your password.`);
  });
});
