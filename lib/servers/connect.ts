import "server-only";
import { eq, isNull } from "drizzle-orm";
import { servers } from "@/db/schema";
import { openSecret } from "../crypto/secret-box";
import { db } from "../db";
import { env } from "../env";
import { AppError, notFound } from "../errors";
import { formatDuration } from "../format";
import { connectSsh, localReach, ReachError, type Reach } from "../reach";
import { hostKeyChanged } from "../reach/ssh/connect-errors";
import { inTeam, type TeamContext } from "../teams/context";

/**
 * Connects to a team's server, runs `fn`, and disconnects on every path. The first successful
 * SSH connection pins the host key; a different key later is refused and recorded as "offered"
 * until an admin accepts it. With `deadlineMs`, `fn` that has not ended by then is given up on:
 * its commands are stopped with the connection (a hung mount, a command that never returns), and
 * the call rejects, so a sweep that cleans up after many teams goes on to the next.
 */
export async function withServer<T>(
  t: TeamContext,
  serverId: string,
  fn: (reach: Reach) => Promise<T>,
  opts: { signal?: AbortSignal; deadlineMs?: number } = {},
): Promise<T> {
  const d = await db();
  const [s] = await d
    .select()
    .from(servers)
    .where(inTeam(servers, t, eq(servers.id, serverId)));
  if (!s) throw notFound("That server");
  let reach: Reach;
  if (s.kind === "local") {
    if (!env().allowLocalServers)
      throw new AppError(
        "VALIDATION",
        "This Coffer does not allow local servers. An operator can enable them with ALLOW_LOCAL_SERVERS=true.",
      );
    reach = localReach();
  } else {
    const open = (column: "private_key_enc" | "passphrase_enc" | "password_enc", value: string | null) =>
      value === null ? undefined : openSecret(value, { teamId: t.id, table: "servers", column, rowId: s.id });
    try {
      const conn = await connectSsh({
        host: s.host!,
        port: s.port ?? 22,
        username: s.username!,
        privateKey: open("private_key_enc", s.privateKeyEnc),
        passphrase: open("passphrase_enc", s.passphraseEnc),
        password: open("password_enc", s.passwordEnc),
        pinnedHostKey: s.hostKey,
        allowPrivateNetworks: env().allowPrivateNetworks,
        signal: opts.signal,
      });
      reach = conn.reach;
      if (!s.hostKey) {
        // Trust on first use. Another connection may have pinned a key meanwhile: this one is
        // used only if it saw that key too.
        const sameAddress = [eq(servers.id, s.id), eq(servers.host, s.host!), eq(servers.port, s.port ?? 22)];
        const pinned = await d
          .update(servers)
          .set({ hostKey: conn.hostKey, offeredHostKey: null })
          .where(inTeam(servers, t, ...sameAddress, isNull(servers.hostKey)))
          .returning({ id: servers.id });
        if (!pinned.length) {
          const [now] = await d
            .select({ hostKey: servers.hostKey })
            .from(servers)
            .where(inTeam(servers, t, ...sameAddress));
          if (now?.hostKey !== conn.hostKey) {
            await reach.close();
            if (!now?.hostKey)
              throw new AppError("UPSTREAM", "The server's settings changed while Coffer connected to it. Try again.");
            // As connectSsh says it when the pinned key is known before connecting.
            const host = s.host!.includes(":") && !s.host!.startsWith("[") ? `[${s.host}]` : s.host!;
            const target = `${host}:${s.port ?? 22}`;
            throw hostKeyChanged({
              shown: conn.address === s.host ? target : `${target} (${conn.address})`,
              port: s.port ?? 22,
              username: s.username!,
              pinned: now.hostKey,
              methods: { key: s.privateKeyEnc !== null, password: s.passwordEnc !== null },
              observed: { fingerprint: conn.hostKey, type: conn.hostKeyType },
              mismatch: true,
              offered: null,
              tried: new Set(),
            });
          }
        }
      }
    } catch (err) {
      if (err instanceof ReachError && err.reason === "host-key-changed" && err.hostKey) {
        await d
          .update(servers)
          .set({ offeredHostKey: err.hostKey })
          .where(inTeam(servers, t, eq(servers.id, s.id), eq(servers.host, s.host!), eq(servers.port, s.port ?? 22)));
      }
      throw err;
    }
  }
  let timer: NodeJS.Timeout | undefined;
  const deadline = opts.deadlineMs;
  const expired =
    deadline &&
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(
          new AppError(
            "UPSTREAM",
            `${s.name} did not finish within ${formatDuration(deadline)}: Coffer stopped its commands and tries again later.`,
          ),
        );
        void reach.close().catch(() => {});
      }, deadline);
    });
  try {
    const running = fn(reach);
    if (!expired) return await running;
    running.catch(() => {}); // rejects once its commands are stopped
    return await Promise.race([running, expired]);
  } finally {
    clearTimeout(timer);
    await reach.close();
  }
}

/** How long a clean-up (a work folder, a scratch database) may take on a server before it is given up for now. */
export const CLEANUP_DEADLINE_MS = 120_000;
