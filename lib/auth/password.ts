import "server-only";
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from "node:crypto";
import { AppError } from "../errors";

// scrypt N=2^17, r=8, p=1 (OWASP's recommendation): 128 MiB per hash, so maxmem must be raised.
const params = { N: 2 ** 17, r: 8, p: 1 };
const keyLength = 32;

/** Longest password accepted, in UTF-8 bytes: checked before any hashing (200 characters fit). */
export const MAX_PASSWORD_BYTES = 1024;

// Each hash takes 128 MiB and most of a second of CPU on libuv's small thread pool (shared with
// DNS and file I/O), so hashes run a few at a time and a burst beyond a short queue is turned
// away at once. Sign-ins from a browser that signed in to that account before (a device token)
// have a lane of their own, so a flood of bogus sign-ins and sign-ups cannot keep real users out.
export type HashLane = "general" | "known-device";
const lanes: Record<HashLane, { maxRunning: number; maxWaiting: number; running: number; waiting: (() => void)[] }> = {
  general: { maxRunning: 2, maxWaiting: 8, running: 0, waiting: [] },
  "known-device": { maxRunning: 1, maxWaiting: 4, running: 0, waiting: [] },
};

async function withHashSlot<T>(lane: HashLane, fn: () => Promise<T>): Promise<T> {
  const l = lanes[lane];
  if (l.running >= l.maxRunning) {
    if (l.waiting.length >= l.maxWaiting)
      throw new AppError("RATE_LIMITED", "Coffer is handling many sign-ins right now. Try again in a few seconds.");
    await new Promise<void>((resolve) => l.waiting.push(resolve));
  } else l.running++;
  try {
    return await fn();
  } finally {
    const next = l.waiting.shift();
    if (next) next();
    else l.running--;
  }
}

function assertLength(password: string) {
  if (Buffer.byteLength(password) > MAX_PASSWORD_BYTES)
    throw new AppError("VALIDATION", "Passwords are at most 200 characters.", {
      password: ["Use at most 200 characters."],
    });
}

function derive(
  password: string,
  salt: Buffer,
  opts: { N: number; r: number; p: number },
  lane: HashLane = "general",
): Promise<Buffer> {
  assertLength(password);
  const options: ScryptOptions = { ...opts, maxmem: 256 * opts.N * opts.r + 1024 * 1024 };
  return withHashSlot(
    lane,
    () =>
      new Promise((resolve, reject) =>
        scrypt(password.normalize("NFKC"), salt, keyLength, options, (err, key) => (err ? reject(err) : resolve(key))),
      ),
  );
}

/** `scrypt$N$r$p$salt$hash`: the parameters travel with the hash so they can be raised later. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, params);
  return ["scrypt", params.N, params.r, params.p, salt.toString("base64url"), key.toString("base64url")].join("$");
}

export async function verifyPassword(password: string, stored: string, lane: HashLane = "general"): Promise<boolean> {
  const [alg, n, r, p, salt, hash] = stored.split("$");
  if (alg !== "scrypt" || !salt || !hash) return false;
  const expected = Buffer.from(hash, "base64url");
  const key = await derive(
    password,
    Buffer.from(salt, "base64url"),
    { N: Number(n), r: Number(r), p: Number(p) },
    lane,
  );
  return key.length === expected.length && timingSafeEqual(key, expected);
}

// Compared against when the account does not exist, so a sign-in takes as long either way.
let decoy: Promise<string> | undefined;
export async function burnPasswordCheck(password: string): Promise<void> {
  decoy ??= hashPassword(randomBytes(16).toString("hex")).catch((err: unknown) => {
    decoy = undefined; // turned away in a burst: try again next time, not never
    throw err;
  });
  await verifyPassword(password, await decoy);
}
