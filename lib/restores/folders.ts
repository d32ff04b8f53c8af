import "server-only";
import { PassThrough } from "node:stream";
import { pipeline } from "node:stream/promises";
import { assertOutsideCofferData, restoreFolder } from "../servers/coffer-data";
import { withServer } from "../servers/connect";
import { archiveDamage, counter, fromIntactCopy, gunzipStages, openCopy } from "./archive-entries";
import { restoreDirectory } from "./files";
import type { FoldersOutcome, RestoreCtx } from "./job";

/** Restores folders of the archive to a path on the job's server (fresh, or overwriting). */
export async function restoreFolders(ctx: RestoreCtx): Promise<FoldersOutcome> {
  const { t, job, server, signal, say } = ctx;
  // Again now: a link on the way may have changed since the restore was requested.
  await assertOutsideCofferData(server.kind, [job.targetPath!], restoreFolder);
  return withServer(
    t,
    job.serverId,
    async (reach) => {
      let readError: unknown;
      const attempt = async () => {
        readError = undefined;
        const body = await openCopy(ctx);
        const tar = new PassThrough();
        const reading = pipeline([body, counter(ctx.onBytes), ...gunzipStages(job, ctx.backup), tar]).catch(
          (err: unknown) => {
            readError = err;
            tar.destroy(err as Error);
          },
        );
        try {
          const r = await restoreDirectory({
            reach,
            serverName: server.name,
            tar,
            members: job.members,
            target: job.targetPath!,
            mode: job.mode as "fresh" | "overwrite",
            restoreId: job.id.replace(/^rst_/, ""),
            signal,
            onStep: say,
          });
          return { kind: "directory" as const, path: job.targetPath!, files: r.files, bytes: r.bytes };
        } finally {
          body.destroy();
          await reading;
        }
      };
      // A failed extraction removes what it wrote (restoreDirectory), so the next copy starts clean.
      return fromIntactCopy(
        ctx,
        attempt,
        async () => {},
        () => archiveDamage(readError),
      );
    },
    { signal },
  );
}
