import "server-only";
import { eq, inArray } from "drizzle-orm";
import { servers, sources } from "@/db/schema";
import { db } from "../db";
import { env } from "../env";
import { AppError, notFound } from "../errors";
import { hold, type Held } from "../jobs/hold";
import { resolveAllowedAddress } from "../net/address-guard";
import type { Reach } from "../reach";
import { sourceConnection } from "../servers/checks";
import { assertOutsideCofferData, sourceFolder, workFolder } from "../servers/coffer-data";
import { withServer } from "../servers/connect";
import { inTeam, type TeamContext } from "../teams/context";
import { startArchive, type ArchiveSource, type PostgresArchiveSource } from "./archive";
import type { ArchiveProducer } from "./build";
import type { CompressionSetting } from "./compression";
import { COFFER_VERSION } from "./version";

type ServerRow = { id: string; name: string; kind: "ssh" | "local"; workDir: string };

/** A backup's server and the archive sources it reads, loaded for the run. */
export async function serverArchive(
  t: TeamContext,
  backup: { id: string; serverId: string; sourceIds: string[]; compression: CompressionSetting },
): Promise<ArchiveProducer> {
  const d = await db();
  const [server] = await d
    .select({ id: servers.id, name: servers.name, kind: servers.kind, workDir: servers.workDir })
    .from(servers)
    .where(inTeam(servers, t, eq(servers.id, backup.serverId)));
  if (!server) throw notFound("The backup's server");
  const rows = await d
    .select()
    .from(sources)
    .where(inTeam(sources, t, inArray(sources.id, backup.sourceIds)));
  if (rows.length !== backup.sourceIds.length)
    throw new AppError("NOT_FOUND", "A source of this backup was deleted. Start a new backup.");
  const archiveSources = await Promise.all(
    rows.map(async (s): Promise<ArchiveSource> => {
      if (s.kind === "directory")
        return { kind: "directory", id: s.id, name: s.name, paths: s.paths ?? [], excludes: s.excludes ?? [] };
      const connection = await postgresSource(t, server.kind, s);
      if (s.kind === "postgres") return connection;
      return { ...connection, kind: "postgres_cluster", excludes: s.excludes ?? [], rolePasswords: s.pgRolePasswords };
    }),
  );
  return archiveOnServer(t, server, {
    backupId: backup.id,
    sources: archiveSources,
    compression: backup.compression,
  });
}

/**
 * The archive `startArchive` makes on a server, as a producer: it connects when opened, or uses
 * `reach`, a connection already open (a restore's), and also stops on `signal` when given.
 */
export function archiveOnServer(
  t: TeamContext,
  server: ServerRow,
  o: {
    backupId: string;
    sources: ArchiveSource[];
    compression?: CompressionSetting;
    reach?: Reach;
    signal?: AbortSignal;
  },
): ArchiveProducer {
  let connection: Held<Reach> | undefined;
  return {
    async open({ signal, say, progress }) {
      // Again now: a link on the way may have changed since these folders were saved.
      await assertOutsideCofferData(server.kind, [server.workDir], workFolder);
      for (const s of o.sources)
        if (s.kind === "directory") await assertOutsideCofferData(server.kind, s.paths, sourceFolder);
      connection = o.reach ? undefined : await hold((fn) => withServer(t, server.id, fn, { signal }));
      const archive = await startArchive({
        reach: o.reach ?? connection!.value,
        workDir: server.workDir,
        serverName: server.name,
        backupId: o.backupId,
        sources: o.sources,
        compression: o.compression,
        cofferVersion: COFFER_VERSION,
        signal: o.signal ? AbortSignal.any([signal, o.signal]) : signal,
        onStep: say,
        onSpooled: progress,
      });
      return { stream: archive.stream, done: archive.done as unknown as Promise<Record<string, unknown>> };
    },
    close: async () => connection?.release(),
  };
}

/** A database source's connection, as a server reaches it. On the Coffer host itself the database host is one Coffer connects to: the checked address is pinned. */
export async function postgresSource(
  t: TeamContext,
  serverKind: "ssh" | "local",
  s: typeof sources.$inferSelect,
): Promise<PostgresArchiveSource> {
  const c = sourceConnection(t, s);
  const hostaddr =
    serverKind === "local"
      ? (await resolveAllowedAddress(c.host, { allowPrivate: env().allowPrivateNetworks })).address
      : undefined;
  return { kind: "postgres", id: s.id, name: s.name, ...c, hostaddr };
}
