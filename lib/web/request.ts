import "server-only";
import { headers } from "next/headers";
import { env } from "../env";

/**
 * The caller's address, or null when it cannot be known. Next.js keeps an X-Forwarded-For the
 * client sent, so without a reverse proxy the header proves nothing. Behind one
 * (TRUST_PROXY=true) the last entry is the address that proxy saw — entries before it are
 * whatever the client claimed.
 */
export async function clientIp(): Promise<string | null> {
  if (!env().TRUST_PROXY) return null;
  const hops = ((await headers()).get("x-forwarded-for") ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  return hops.at(-1)?.replace(/^::ffff:/, "") ?? null;
}

export async function userAgent(): Promise<string | null> {
  return (await headers()).get("user-agent");
}
