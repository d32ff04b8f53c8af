import "server-only";
import { AppError } from "@/lib/errors";

// What a provider or file-system error says about itself: codes, HTTP status and matched-only
// text from the whole chain, and the address guard's refusal wherever an SDK wrapped it.

export const NETWORK_CODES: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ENOTFOUND: "the host name does not resolve",
  EAI_AGAIN: "DNS lookup failed",
  ETIMEDOUT: "connection timed out",
  ECONNRESET: "connection reset",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  EPIPE: "connection closed",
  ECONNABORTED: "connection aborted",
  UND_ERR_CONNECT_TIMEOUT: "connection timed out",
  TimeoutError: "connection timed out",
};

/** Errors of a connection that was working: transient, not a configuration problem. */
export const BROKEN_CODES = new Set(["ECONNRESET", "EPIPE", "ECONNABORTED"]);

export const TLS_CODES = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_HAS_EXPIRED",
  "ERR_TLS_CERT_ALTNAME_INVALID",
  "EPROTO",
  "ERR_SSL_WRONG_VERSION_NUMBER",
]);

export interface Facts {
  /** Provider error code (S3 `Code`, Azure `x-ms-error-code`, GCS reason) or Node error code. */
  codes: string[];
  status?: number;
  /** Lower-cased text of messages in the error chain — only matched against, never shown. */
  text: string;
  bucketRegion?: string;
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null;
}

function str(v: unknown): string | undefined {
  return typeof v === "string" && v ? v : undefined;
}

/** Collects codes, status and text from an error and everything it wraps. */
export function facts(err: unknown): Facts {
  const out: Facts = { codes: [], text: "" };
  const seen = new Set<unknown>();
  const texts: string[] = [];
  const visit = (e: unknown, depth: number) => {
    if (!isObject(e) || seen.has(e) || depth > 5) return;
    seen.add(e);
    for (const c of [e.code, e.Code, e.name, e.errorCode, isObject(e.details) ? e.details.errorCode : undefined]) {
      if (typeof c === "string" && c && c !== "Error" && !out.codes.includes(c)) out.codes.push(c);
    }
    const meta = isObject(e.$metadata) ? e.$metadata : undefined;
    const response = isObject(e.response) ? e.response : undefined;
    const status = [
      meta?.httpStatusCode,
      e.statusCode,
      e.status,
      response?.status,
      typeof e.code === "number" ? e.code : undefined,
    ].find((s): s is number => typeof s === "number" && s >= 100 && s < 600);
    out.status ??= status;
    const dollarResponse = isObject(e.$response) ? e.$response : undefined;
    const headers = dollarResponse && isObject(dollarResponse.headers) ? dollarResponse.headers : undefined;
    out.bucketRegion ??= str(headers?.["x-amz-bucket-region"]) ?? str(e.Region) ?? str(e.BucketRegion);
    for (const t of [
      e.message,
      isObject(e.details) ? e.details.authenticationErrorDetail : undefined,
      response && isObject(response.data) ? JSON.stringify(response.data).slice(0, 2000) : undefined,
    ]) {
      if (typeof t === "string") texts.push(t);
    }
    if (Array.isArray(e.errors)) {
      for (const inner of e.errors) {
        if (isObject(inner) && typeof inner.reason === "string" && !out.codes.includes(inner.reason))
          out.codes.push(inner.reason);
        visit(inner, depth + 1);
      }
    }
    visit(e.cause, depth + 1);
    visit(e.error, depth + 1);
    visit(e.originalError, depth + 1);
  };
  visit(err, 0);
  out.text = texts.join("\n").toLowerCase();
  // Network codes hidden in wrapped messages: "connect ECONNREFUSED 127.0.0.1:9", "getaddrinfo ENOTFOUND x".
  for (const m of out.text.toUpperCase().matchAll(/\b(E[A-Z]{3,}|UND_ERR_[A-Z_]+)\b/g)) {
    const c = m[1] as string;
    if ((c in NETWORK_CODES || TLS_CODES.has(c)) && !out.codes.includes(c)) out.codes.push(c);
  }
  return out;
}

/**
 * The address guard's refusal inside an SDK error. SDKs wrap socket errors and keep only their
 * message (Azure's RestError, node-fetch's FetchError), so the refusal is found as an AppError in
 * the chain or as the guard's own sentence in a message. Connection errors only (no HTTP status):
 * a response's text is never trusted.
 */
export function guardRefusal(err: unknown, status: number | undefined): AppError | undefined {
  if (status) return undefined;
  const seen = new Set<unknown>();
  const visit = (e: unknown, depth: number): AppError | undefined => {
    if (!isObject(e) || seen.has(e) || depth > 5) return undefined;
    seen.add(e);
    if (e instanceof AppError) return e;
    const sentence =
      typeof e.message === "string"
        ? /Coffer does not connect to [^\n]*?\(ALLOW_PRIVATE_NETWORKS=true\)\./.exec(e.message)?.[0]
        : undefined;
    if (sentence) return new AppError("VALIDATION", sentence);
    return visit(e.cause, depth + 1) ?? visit(e.error, depth + 1) ?? visit(e.originalError, depth + 1);
  };
  return visit(err, 0);
}
