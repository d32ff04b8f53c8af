/**
 * Arguments that would run something, or mean something else, if a shell ever interpreted them
 * (STYLE.md: commands on servers). Several would create `canary` if they ran.
 */
export function hostileArguments(canary: string): string[] {
  return [
    "; rm -rf /",
    `; touch ${canary}`,
    "'quoted'",
    `'; touch ${canary}; '`,
    '"dq"',
    `"; touch ${canary}; "`,
    `$(touch ${canary})`,
    `\`touch ${canary}\``,
    "`id`",
    "${HOME}",
    "$HOME",
    "a\nb",
    `\ntouch ${canary}\n`,
    "-n",
    "--help",
    "-e",
    "",
    " ",
    "\t",
    "*",
    "~",
    "\\",
    "a\\nb",
    "'",
    "''",
    "'\\''",
    "!",
    "#comment",
    "&& true",
    `&& touch ${canary}`,
    "| cat",
    "> /tmp/x",
    "Grüße 👋 日本語",
    "Grüße 👋 日本語 ‮",
    "\x01\x7f",
  ];
}
