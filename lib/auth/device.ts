import "server-only";
import { createHmac, timingSafeEqual } from "node:crypto";
import { authSecret } from "./secret";

/**
 * A known-device token: set in the browser after a successful password sign-in, it says "this
 * browser signed in to this account, with its present password, before". Sign-ins that carry one
 * for the account they name hash in a lane of their own (lib/auth/password), so a flood of bogus
 * sign-ins cannot turn them away. Signed with AUTH_SECRET and bound to the e-mail and the stored
 * password hash, so a password change ends every token issued before it (a browser that once
 * knew the old password is held up like any other); it grants nothing by itself.
 */
export const DEVICE_COOKIE = "coffer-device";
export const DEVICE_MAX_AGE_DAYS = 180;

const mac = (email: string, issued: string, passwordHash: string) =>
  createHmac("sha256", authSecret())
    .update(`device\n${email.toLowerCase()}\n${issued}\n${passwordHash}`)
    .digest("base64url");

export function issueDeviceToken(email: string, passwordHash: string, now = Date.now()): string {
  const issued = String(Math.floor(now / 1000));
  return `${issued}.${mac(email, issued, passwordHash)}`;
}

/** True when `token` was issued by this Coffer for `email` with this password hash and has not expired. */
export function isKnownDevice(
  token: string | undefined | null,
  email: string,
  passwordHash: string | null | undefined,
  now = Date.now(),
): boolean {
  const [issued, sig] = (token ?? "").split(".");
  if (!passwordHash || !issued || !sig || !/^\d{1,12}$/.test(issued)) return false;
  if (now / 1000 - Number(issued) > DEVICE_MAX_AGE_DAYS * 86_400) return false;
  const expected = Buffer.from(mac(email, issued, passwordHash));
  const given = Buffer.from(sig);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
