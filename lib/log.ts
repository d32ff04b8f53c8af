import "server-only";

// Credentials that can hide in error messages from drivers and SDKs (connection strings, headers).
const patterns: [RegExp, string][] = [
  [/(\b[a-z][a-z0-9+.-]*:\/\/[^\s:/@]*:)[^\s@/]*@/gi, "$1[redacted]@"],
  [
    /\b([a-z0-9_-]*?(?:password|passwd|passphrase|secret|token|authorization|api[_-]?key|account[_-]?key|private[_-]?key|sharedaccesssignature|sig))(["']?\s*[:=]\s*["']?)[^\s"',;&]+/gi,
    "$1$2[redacted]",
  ],
  [/-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g, "[redacted private key]"],
];

export function redact(text: string): string {
  return patterns.reduce((s, [re, to]) => s.replace(re, to), text);
}

/**
 * Field names whose values are never logged, whatever their case or nesting: PGPASSWORD,
 * secretAccessKey, accountKey, sasUrl, connectionString, private_key, sessionToken, passphrase…
 */
const secretKeyName =
  /pass(word|wd|phrase)?$|password|secret|token|authorization|cookie|credential|signature|^sig$|sas|connection[-_]?string|(api|access|account|private|master|signing|session)[-_]?key|_enc$/i;

type Fields = Record<string, unknown>;

/**
 * An error for the log: name, message, stack and its cause (the driver's error, with the
 * PostgreSQL code). Drizzle's own message repeats every query parameter — sealed secrets, password
 * hashes — so for those only the SQL's first line is kept.
 */
function describeError(e: Error): Record<string, unknown> {
  const query = (e as { query?: string }).query;
  const message = query !== undefined ? `Failed query: ${query.split("\n")[0]}` : e.message;
  const cause =
    e.cause instanceof Error
      ? { name: e.cause.name, message: e.cause.message, code: (e.cause as { code?: string }).code }
      : undefined;
  return { name: e.name, message, stack: e.stack?.split("\n").slice(1, 8).join("\n"), ...(cause && { cause }) };
}

function write(level: "info" | "warn" | "error", message: string, fields?: Fields) {
  const line = JSON.stringify({ level, time: new Date().toISOString(), message, ...fields }, (k, v: unknown) =>
    v instanceof Error ? describeError(v) : v != null && secretKeyName.test(k) ? "[redacted]" : v,
  );
  (level === "error" ? console.error : level === "warn" ? console.warn : console.log)(redact(line));
}

/** Structured, redacted logging. Never pass a secret on purpose; redaction is the second line. */
export const log = {
  info: (message: string, fields?: Fields) => write("info", message, fields),
  warn: (message: string, fields?: Fields) => write("warn", message, fields),
  error: (message: string, fields?: Fields) => write("error", message, fields),
};
