import "server-only";
import { env } from "../env";
import { AppError, asAppError } from "../errors";
import { resolveAllowedAddress, type AllowedAddress } from "../net/address-guard";

/**
 * Where a channel sends: an http(s) URL whose host passes the outbound address guard (as storage
 * endpoints do). `https` only in production, unless private networks are allowed (a self-hosted
 * receiver on the LAN). Checked when saved and again before every attempt.
 */
export interface Target {
  url: URL;
  /** `host[:port]`, the only part of the URL that appears in messages (chat URLs carry a credential). */
  hint: string;
}

const invalid = (message: string) => new AppError("VALIDATION", message, { url: [message] });

export function parseTarget(raw: string): Target {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw invalid("Enter a full URL such as https://example.com/hooks/coffer.");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:")
    throw invalid(`Use an https:// URL (not ${url.protocol.replace(/:$/, "")}).`);
  if (url.username || url.password)
    throw invalid("Leave user and password out of the URL (user:password@host): put a token in its path or query.");
  const e = env();
  if (url.protocol === "http:" && e.production && !e.allowPrivateNetworks)
    throw invalid("Use an https:// URL: this Coffer sends notifications only over https.");
  url.hash = "";
  return { url, hint: url.host };
}

/** The address to connect to, checked by the guard; its errors name the URL field. */
export async function resolveTarget(target: Target, signal?: AbortSignal): Promise<AllowedAddress> {
  try {
    return await resolveAllowedAddress(target.url.hostname, { allowPrivate: env().allowPrivateNetworks, signal });
  } catch (err) {
    const app = asAppError(err);
    if (app?.code === "VALIDATION") throw invalid(app.message);
    throw err;
  }
}
