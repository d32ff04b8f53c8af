import "server-only";
import { cookies, headers } from "next/headers";
import { DEVICE_COOKIE, DEVICE_MAX_AGE_DAYS } from "../auth/device";
import { newDeviceToken } from "../auth/users";
import { env } from "../env";

/**
 * The caller's address, or null when it cannot be known. Next.js keeps an X-Forwarded-For the
 * client sent, so without a reverse proxy the header proves nothing. Behind one
 * (TRUST_PROXY=true) the last entry is the address that proxy saw — entries before it are
 * whatever the client claimed.
 */
export async function clientIp(): Promise<string | null> {
  return clientIpOf(await headers());
}

/** clientIp() from a request's own headers (route handlers that are handed the Request). */
export function clientIpOf(headers: Headers): string | null {
  if (!env().TRUST_PROXY) return null;
  const hops = (headers.get("x-forwarded-for") ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  return hops.at(-1)?.replace(/^::ffff:/, "") ?? null;
}

export async function userAgent(): Promise<string | null> {
  return (await headers()).get("user-agent");
}

/** The browser's known-device token (lib/auth/device), if it has one. */
export async function deviceToken(): Promise<string | null> {
  return (await cookies()).get(DEVICE_COOKIE)?.value ?? null;
}

/** Marks this browser as one that signed in to `email` (after a successful password sign-in). */
export async function rememberDevice(email: string): Promise<void> {
  const token = await newDeviceToken(email);
  if (!token) return;
  (await cookies()).set(DEVICE_COOKIE, token, {
    httpOnly: true,
    sameSite: "lax",
    secure: new URL(env().APP_URL).protocol === "https:",
    path: "/",
    maxAge: DEVICE_MAX_AGE_DAYS * 86_400,
  });
}
