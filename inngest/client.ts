import { Inngest } from "inngest";
import { env } from "@/lib/env";
import { log } from "@/lib/log";

const e = env();
// The SDK logs objects holding errors ({ err }); keep their name and message (the log redacts).
const describe = (a: unknown) =>
  a instanceof Error || typeof a !== "object" || a === null
    ? a
    : JSON.stringify(a, (_k, v: unknown) => (v instanceof Error ? { name: v.name, message: v.message } : v));

/**
 * The one Inngest client. Configuration comes from lib/env (the only reader of process.env); when
 * no Inngest server is configured the functions run in-process (inngest/in-process.ts) and this
 * client never sends anything itself.
 */
export const inngest = new Inngest({
  id: "coffer",
  isDev: !e.INNGEST_EVENT_KEY && !e.INNGEST_SIGNING_KEY,
  baseUrl: e.INNGEST_BASE_URL,
  eventKey: e.INNGEST_EVENT_KEY,
  signingKey: e.INNGEST_SIGNING_KEY,
  logger: {
    info: (...args: unknown[]) => log.info("inngest", { detail: args.map(describe) }),
    warn: (...args: unknown[]) => log.warn("inngest", { detail: args.map(describe) }),
    error: (...args: unknown[]) => log.error("inngest", { detail: args.map(describe) }),
    debug: () => {},
  },
});
