// The `coffer` commands that drive a Coffer through /api/v1 with COFFER_URL and COFFER_TOKEN, for
// cron and CI: progress goes to standard error, results to standard output (--json: the API's
// JSON), and the exit code says how it went: 0 done, 1 the job failed or was cancelled or the API
// refused, 2 a usage or configuration mistake.
import { createWriteStream, existsSync, renameSync, statSync } from "node:fs";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { parseArgs } from "node:util";
import { env } from "@/lib/env";

export class UsageError extends Error {}
/** The API answered with an error, or a job ended badly: exit code 1. */
export class Failed extends Error {}

export const apiUsage = `
  coffer backup <srv_…> --destinations <dst_…,…> [--sources <src_…,…>] [--no-encrypt] [--wait] [--json]
  coffer backups [--server <srv_…>] [--status <s,…>] [--limit <n>] [--json]
  coffer download <bkp_…> [-o <file>]            resumes from <file>.partial when a download was cut
  coffer restore <bkp_…> --server <srv_…> --database <name> --connection <src_…> [--dump <path.sql>] [--replace] [--wait] [--json]
  coffer verify <bkp_…> [--wait] [--json]
  coffer status <bkp_…|rst_…> [--json]
These use COFFER_URL (your Coffer) and COFFER_TOKEN (Settings → API tokens).`;

const progress = (line: string) => process.stderr.write(`${line}\n`);
const list = (v: string | undefined) => v?.split(",").filter(Boolean);

function target() {
  const { COFFER_URL: url, COFFER_TOKEN: token } = env();
  if (!url || !token)
    throw new UsageError("Set COFFER_URL (your Coffer's address) and COFFER_TOKEN (Settings → API tokens).");
  return { url: url.replace(/\/$/, ""), token };
}

async function api(method: string, path: string, opts: { json?: unknown; headers?: Record<string, string> } = {}) {
  const { url, token } = target();
  const response = await fetch(`${url}/api/v1${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(opts.json !== undefined && { "content-type": "application/json" }),
      ...opts.headers,
    },
    body: opts.json === undefined ? undefined : JSON.stringify(opts.json),
  });
  if (response.ok || response.status === 206) return response;
  const body = (await response.json().catch(() => null)) as { error?: { message?: string } } | null;
  const retry = response.headers.get("retry-after");
  throw new Failed(
    `${response.status}: ${body?.error?.message ?? response.statusText}${retry ? ` (retry after ${retry} s)` : ""}`,
  );
}
const apiJson = async <T,>(method: string, path: string, opts?: Parameters<typeof api>[2]) =>
  (await (await api(method, path, opts)).json()) as T;

type Job = { id: string; status: string; bytesDone: number; error: string | null; kind?: string };
const finished = (s: string) => !["queued", "running"].includes(s);

/** Polls a backup or restore until it ends, reporting progress; Failed unless it succeeded. */
async function wait(path: string, every = 2000): Promise<Job> {
  let last = "";
  for (;;) {
    const job = await apiJson<Job>("GET", path);
    const line = `${job.id}: ${job.status}${job.status === "running" ? `, ${job.bytesDone} bytes` : ""}`;
    if (line !== last) progress((last = line));
    if (finished(job.status)) return job;
    await new Promise((r) => setTimeout(r, every));
  }
}

function result(job: Job, json: boolean, summary: string) {
  console.log(json ? JSON.stringify(job) : summary);
  if (finished(job.status) && job.status !== "succeeded")
    throw new Failed(`${job.id} ${job.status}${job.error ? `: ${job.error}` : ""}`);
}

async function backup(args: string[]) {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      sources: { type: "string" },
      destinations: { type: "string" },
      "no-encrypt": { type: "boolean" },
      wait: { type: "boolean" },
      json: { type: "boolean" },
      "idempotency-key": { type: "string" },
    },
  });
  if (positionals.length !== 1 || !values.destinations) throw new UsageError(`Usage:${apiUsage}`);
  const key = values["idempotency-key"];
  let job = await apiJson<Job>("POST", "/backups", {
    json: {
      serverId: positionals[0],
      destinationIds: list(values.destinations),
      ...(values.sources && { sourceIds: list(values.sources) }),
      encrypted: !values["no-encrypt"],
    },
    headers: key ? { "idempotency-key": key } : {},
  });
  progress(`Backup ${job.id} queued.`);
  if (values.wait) job = await wait(`/backups/${job.id}`);
  result(job, !!values.json, job.id);
}

async function backups(args: string[]) {
  const { values } = parseArgs({
    args,
    options: {
      server: { type: "string" },
      status: { type: "string" },
      limit: { type: "string" },
      json: { type: "boolean" },
    },
  });
  const query = new URLSearchParams();
  if (values.server) query.set("serverId", values.server);
  if (values.status) query.set("status", values.status);
  if (values.limit) query.set("limit", values.limit);
  const page = await apiJson<{
    data: (Job & { createdAt: string; serverName: string; archiveBytes: number | null })[];
  }>("GET", `/backups?${query}`);
  if (values.json) return console.log(JSON.stringify(page.data));
  for (const b of page.data) console.log([b.id, b.createdAt, b.status, b.serverName, b.archiveBytes ?? "-"].join("\t"));
}

/** Downloads to `<file>.partial`, continuing it with a Range request if a cut download left one. */
async function download(args: string[]) {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { o: { type: "string", short: "o" } },
  });
  if (positionals.length !== 1) throw new UsageError(`Usage:${apiUsage}`);
  const id = positionals[0]!;
  const out = values.o ?? `${id}.tar.gz`;
  if (existsSync(out)) throw new UsageError(`${out} already exists; choose another file with -o or remove it.`);
  const partial = `${out}.partial`;
  const have = existsSync(partial) ? statSync(partial).size : 0;
  const response = await api("GET", `/backups/${id}/download`, { headers: have ? { range: `bytes=${have}-` } : {} });
  const resumed = response.status === 206;
  if (have) progress(resumed ? `Resuming at byte ${have}.` : "The server sent the whole file; starting again.");
  const total = Number(response.headers.get("content-range")?.split("/")[1] ?? response.headers.get("content-length"));
  await pipeline(
    Readable.fromWeb(response.body as import("node:stream/web").ReadableStream<Uint8Array>),
    createWriteStream(partial, { flags: resumed ? "a" : "w" }),
  );
  const size = statSync(partial).size;
  if (size !== total) throw new Failed(`Got ${size} of ${total} bytes; run the same command again to resume.`);
  renameSync(partial, out);
  progress(`Wrote ${size} bytes.`);
  console.log(out);
}

async function restore(args: string[]) {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      server: { type: "string" },
      database: { type: "string" },
      connection: { type: "string" },
      dump: { type: "string" },
      replace: { type: "boolean" },
      wait: { type: "boolean" },
      json: { type: "boolean" },
    },
  });
  if (positionals.length !== 1 || !values.server || !values.database || !values.connection)
    throw new UsageError(`Usage:${apiUsage}`);
  const backupId = positionals[0]!;
  let dump = values.dump;
  if (!dump) {
    const b = await apiJson<{ manifest: { entries?: { path: string }[] } | null }>("GET", `/backups/${backupId}`);
    const dumps = (b.manifest?.entries ?? []).map((e) => e.path).filter((p) => p.endsWith(".sql"));
    if (dumps.length !== 1)
      throw new UsageError(`Choose the dump with --dump (the backup holds ${dumps.join(", ") || "no .sql dump"}).`);
    dump = dumps[0]!;
  }
  let job = await apiJson<Job>("POST", "/restores", {
    json: {
      kind: "database",
      backupId,
      member: dump,
      serverId: values.server,
      connectionSourceId: values.connection,
      targetDatabase: values.database,
      mode: values.replace ? "replace" : "new",
      ...(values.replace && { confirm: values.database }),
    },
  });
  progress(`Restore ${job.id} queued.`);
  if (values.wait) job = await wait(`/restores/${job.id}`);
  result(job, !!values.json, job.id);
}

async function verify(args: string[]) {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { wait: { type: "boolean" }, json: { type: "boolean" } },
  });
  if (positionals.length !== 1) throw new UsageError(`Usage:${apiUsage}`);
  let job = await apiJson<Job>("POST", "/verifications", { json: { backupId: positionals[0] } });
  progress(`Verification ${job.id} queued.`);
  if (values.wait) job = await wait(`/restores/${job.id}`);
  result(job, !!values.json, job.id);
}

async function status(args: string[]) {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { json: { type: "boolean" } } });
  const id = positionals[0];
  if (positionals.length !== 1 || !/^(bkp|rst)_/.test(id!)) throw new UsageError(`Usage:${apiUsage}`);
  const job = await apiJson<Job>("GET", id!.startsWith("bkp_") ? `/backups/${id}` : `/restores/${id}`);
  result(job, !!values.json, `${job.id}\t${job.status}${job.error ? `\t${job.error}` : ""}`);
}

export const apiCommands: Record<string, (args: string[]) => Promise<void>> = {
  backup,
  backups,
  download,
  restore,
  verify,
  status,
};
