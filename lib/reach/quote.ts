import "server-only";

/**
 * The one POSIX shell quoting helper. SSH `exec` takes a single command string that the
 * remote login shell parses; every argument that ends up in that string goes through here.
 *
 * Rules (POSIX sh, XCU 2.2.2): inside single quotes every character is literal — `$`, backquote,
 * `\`, `"`, `;`, `*`, newlines — except the single quote itself, which cannot appear there.
 * So each argument is wrapped in single quotes, and each `'` inside it becomes `'\''`
 * (close the quote, an escaped literal quote, reopen). The empty string becomes `''`.
 * Leading dashes are not a shell matter: callers put `--` before user-supplied operands
 * where the program supports it.
 *
 * Assumes the remote login shell is POSIX-compatible (sh, dash, bash, ksh, zsh). fish and csh
 * quote differently; such accounts are not supported.
 */
export function quoteArg(arg: string): string {
  if (typeof arg !== "string") throw new TypeError(`shell argument must be a string, got ${typeof arg}`);
  // A NUL byte cannot be passed in an argument vector at all; refuse instead of truncating.
  if (arg.includes("\0")) throw new TypeError("shell argument contains a NUL byte");
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

/** Quotes an argument vector into one command (words separated by single spaces). */
export function shellQuote(argv: readonly string[]): string {
  if (!Array.isArray(argv) || argv.length === 0) throw new TypeError("command needs at least one word");
  return argv.map(quoteArg).join(" ");
}
