import "server-only";
import { quoteArg, shellQuote } from "./quote";

/**
 * Builds the command string sent over SSH `exec`, run by `/bin/sh` whatever the login shell is.
 * Only fixed text written here and `quoteArg`/`shellQuote` output go into it. The wrapping lets
 * Coffer kill the command's whole process group on cancel or a lost connection (sshd ignores
 * signal requests for root logins and leaves a non-PTY command running when its channel closes):
 * docs/design/remote-commands.md.
 */

export const PGID_MARKER = "coffer-pgid:";
/** Exit status the wrapper uses when it cannot set the command up (env read, cd). */
export const SETUP_FAILED = 125;

export interface ScriptOptions {
  cwd?: string;
  envNames: string[];
  stdin: boolean;
}

export function buildRemoteScript(stages: string[][], o: ScriptOptions): string {
  const lines: string[] = [];
  if (o.stdin) lines.push(`printf '${PGID_MARKER}%s\\n' "$$" >&2`);
  // Environment values arrive as the first lines of stdin (never on the command line).
  for (const name of o.envNames) lines.push(`IFS= read -r ${name} || exit ${SETUP_FAILED}`, `export ${name}`);
  if (!o.stdin) {
    lines.push(
      "exec 3<&0 </dev/null",
      "( trap '' TERM; while read -r coffer_l <&3; do :; done; kill -TERM 0; sleep 3; kill -KILL 0 ) >/dev/null 2>&1 &",
      "coffer_w=$!",
      "exec 3<&-",
    );
  }
  if (o.cwd !== undefined) lines.push(`cd -- ${quoteArg(o.cwd)} || exit ${SETUP_FAILED}`);

  if (stages.length === 1) {
    lines.push(shellQuote(stages[0]!), "coffer_rc=$?");
  } else {
    // pipefail in POSIX sh: every stage reports "index status" on fd 4, captured by $( );
    // the last stage's stdout goes to the real stdout (fd 3 inside the capture).
    const piped = stages.map((argv, i) => `{ ${shellQuote(argv)} 4>&-; echo "${i} $?" >&4; }`).join(" | ");
    lines.push(
      "exec 3>&1",
      `coffer_s=$( { ${piped}; } 4>&1 >&3 3>&- )`,
      "exec 3>&-",
      "coffer_rc=0",
      "coffer_b=-1",
      "set -- $coffer_s",
      'while [ "$#" -ge 2 ]; do if [ "$2" -ne 0 ] && [ "$1" -gt "$coffer_b" ]; then coffer_b=$1; coffer_rc=$2; fi; shift 2; done',
    );
  }
  // Stop the watchdog; reaping it inside the redirect keeps bash's "Killed" job notice off stderr.
  if (!o.stdin) lines.push('{ kill -KILL "$coffer_w"; wait "$coffer_w"; } 2>/dev/null');
  lines.push('exit "$coffer_rc"');
  return `exec /bin/sh -c ${quoteArg(lines.join("\n"))}`;
}
