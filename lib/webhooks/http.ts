import "server-only";
import http from "node:http";
import https from "node:https";
import type { LookupFunction } from "node:net";
import { asAppError } from "../errors";
import { resolveTarget, type Target } from "./target";

export const TIMEOUT_MS = 10_000;
/** Of an answer's body, only this much is read (and kept for the delivery log); the rest is not waited for. */
export const BODY_LIMIT = 4096;

export interface HttpOutcome {
  ok: boolean;
  status: number | null;
  body: string | null;
  latencyMs: number;
  error: string | null;
  /** A failure that another attempt cannot fix (the address is refused): no retries. */
  permanent: boolean;
  /** E-mail: recipients this attempt reached, and those refused for good: a retry leaves them out. */
  done?: { sent: string[]; refused: string[] };
  /** E-mail: delivered, but some recipients were deferred: tried again for them (the channel works). */
  incomplete?: boolean;
}

/**
 * POSTs `body` to the target: one connection to the address the guard checked (no second DNS
 * answer can move it), redirects returned as failures rather than followed, TIMEOUT_MS for the
 * whole attempt (look-up included), at most BODY_LIMIT bytes of the answer read. Never throws;
 * messages name the host only, never the URL's path or query.
 */
export async function post(target: Target, body: string, headers: Record<string, string>): Promise<HttpOutcome> {
  const started = Date.now();
  // One deadline for the look-up and the exchange: what DNS took comes off the request's time.
  const left = () => Math.max(0, started + TIMEOUT_MS - Date.now());
  const done = (o: Omit<HttpOutcome, "latencyMs" | "ok"> & { ok?: boolean }): HttpOutcome => ({
    ok: false,
    ...o,
    latencyMs: Date.now() - started,
  });
  let address: { address: string; family: 4 | 6 };
  try {
    address = await resolveTarget(target, AbortSignal.timeout(left()));
  } catch (err) {
    const app = asAppError(err);
    return done({
      status: null,
      body: null,
      error: app?.message ?? `Could not look up ${target.hint}.`,
      permanent: app?.code === "VALIDATION",
    });
  }
  const lookup: LookupFunction = (_host, options, callback) =>
    options.all ? callback(null, [address]) : callback(null, address.address, address.family);
  const { url } = target;
  return new Promise<HttpOutcome>((resolve) => {
    let settled = false;
    let answered = false;
    const finish = (o: Parameters<typeof done>[0]) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(done(o));
    };
    const request = (url.protocol === "https:" ? https : http).request(
      {
        protocol: url.protocol,
        hostname: url.hostname.replace(/^\[|\]$/g, ""),
        port: url.port || undefined,
        path: `${url.pathname}${url.search}`,
        method: "POST",
        headers: { ...headers, "content-length": Buffer.byteLength(body) },
        lookup,
        agent: false,
      },
      (response) => {
        answered = true;
        const status = response.statusCode ?? 0;
        const chunks: Buffer[] = [];
        let size = 0;
        const result = () => {
          const text = Buffer.concat(chunks).subarray(0, BODY_LIMIT).toString("utf8").replace(/\0/g, "");
          const ok = status >= 200 && status < 300;
          finish({
            ok,
            status,
            body: text,
            error: ok ? null : describeStatus(status, response.headers.location, url),
            permanent: false,
          });
        };
        response.on("data", (chunk: Buffer) => {
          chunks.push(chunk);
          size += chunk.length;
          if (size >= BODY_LIMIT) {
            result();
            response.destroy();
          }
        });
        response.on("end", result);
        response.on("error", (err: NodeJS.ErrnoException) =>
          size > 0
            ? result()
            : finish({ status, body: null, error: describeError(err, target.hint, true), permanent: false }),
        );
      },
    );
    const timer = setTimeout(() => {
      request.destroy();
      finish({
        status: null,
        body: null,
        error: answered
          ? `The answer from ${target.hint} did not finish within ${TIMEOUT_MS / 1000} s.`
          : `No answer from ${target.hint} within ${TIMEOUT_MS / 1000} s.`,
        permanent: false,
      });
    }, left());
    request.on("error", (err: NodeJS.ErrnoException) =>
      finish({ status: null, body: null, error: describeError(err, target.hint, answered), permanent: false }),
    );
    request.end(body);
  });
}

function describeStatus(status: number, location: string | undefined, base: URL): string {
  if (status >= 300 && status < 400) {
    let to = "";
    try {
      if (location) to = ` to ${new URL(location, base).host}`;
    } catch {
      // an unparsable Location header: say only that it redirects
    }
    return `Answered ${status} (a redirect${to}): redirects are not followed. Use the URL it redirects to.`;
  }
  return `Answered ${status}: a delivery counts only when the answer is 2xx.`;
}

function describeError(err: NodeJS.ErrnoException, host: string, answered: boolean): string {
  switch (err.code) {
    case "ECONNREFUSED":
      return `Connection refused by ${host}: nothing listens there, or a firewall refuses it.`;
    case "ECONNRESET":
      return `${host} reset the connection ${answered ? "while answering" : "before answering"}.`;
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return `${host} cannot be reached from this Coffer (no route).`;
    case "ETIMEDOUT":
      return `Connecting to ${host} timed out.`;
    default:
      if (err.code?.startsWith("ERR_TLS") || /certificate|ssl|tls/i.test(err.message))
        return `TLS with ${host} failed (${err.code ?? err.message.slice(0, 80)}): check its certificate.`;
      if (err.message === "socket hang up") return `${host} closed the connection before answering.`;
      return `Could not deliver to ${host} (${err.code ?? "error"}).`;
  }
}
