import "server-only";
import { headers } from "next/headers";
import { env } from "../env";

/**
 * The caller's address. Behind a trusted proxy (TRUST_PROXY=true) the client is the first
 * X-Forwarded-For entry; otherwise only the hop that reached us — Next.js's own — is believed.
 */
export async function clientIp(): Promise<string | null> {
  const h = await headers();
  const hops = (h.get("x-forwarded-for") ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  const ip = env().TRUST_PROXY ? hops[0] : hops[hops.length - 1];
  return ip?.replace(/^::ffff:/, "") ?? null;
}

export async function userAgent(): Promise<string | null> {
  return (await headers()).get("user-agent");
}
