import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { freePort } from "./ports";

/** PG_BIN, else the newest server installed from Debian/Ubuntu packages (apt install postgresql). */
function serverBin(): string {
  if (process.env.PG_BIN) return process.env.PG_BIN;
  const versions = existsSync("/usr/lib/postgresql")
    ? readdirSync("/usr/lib/postgresql").filter((v) => existsSync(`/usr/lib/postgresql/${v}/bin/postgres`))
    : [];
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0];
  if (!newest)
    throw new Error(
      "No PostgreSQL server found under /usr/lib/postgresql: run `apt-get install postgresql` (npm test does this).",
    );
  return `/usr/lib/postgresql/${newest}/bin`;
}
const bin = serverBin();

/** A throwaway PostgreSQL cluster on a free loopback port, run as `postgres` when we are root. */
export interface PgCluster {
  port: number;
  url(database: string): string;
  /** Stops the server (fast shutdown: sessions end) and keeps its data, for `start` to bring back. */
  halt(): Promise<void>;
  /** Starts the halted server again, on the same port with the same data. */
  start(): Promise<void>;
  /** Stops the server and removes its data. */
  stop(): Promise<void>;
}

function postgresIds(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  return {
    uid: Number(execFileSync("id", ["-u", "postgres"]).toString().trim()),
    gid: Number(execFileSync("id", ["-g", "postgres"]).toString().trim()),
  };
}

/** `password`: TCP logins need it (SCRAM), so a wrong one is refused; without it, everyone is trusted. */
export async function startPgCluster(o: { password?: string } = {}): Promise<PgCluster> {
  const ids = postgresIds();
  const dir = mkdtempSync(path.join(tmpdir(), "coffer-pg-"));
  if (ids) chownSync(dir, ids.uid, ids.gid);
  const data = path.join(dir, "data");
  const auth = ["-A", "trust"];
  if (o.password) {
    const pwfile = path.join(dir, "pwfile");
    writeFileSync(pwfile, `${o.password}\n`);
    if (ids) chownSync(pwfile, ids.uid, ids.gid);
    auth.push("--auth-host=scram-sha-256", `--pwfile=${pwfile}`);
  }
  execFileSync(path.join(bin, "initdb"), ["-D", data, "-U", "postgres", ...auth, "--no-sync", "-E", "UTF8"], {
    ...ids,
    stdio: "pipe",
  });
  const port = await freePort();
  let server: ChildProcess | undefined;
  const launch = async () => {
    const child = spawn(
      path.join(bin, "postgres"),
      [
        "-D",
        data,
        "-p",
        String(port),
        "-k",
        dir,
        "-c",
        "listen_addresses=127.0.0.1",
        "-c",
        "fsync=off",
        "-c",
        "synchronous_commit=off",
        "-c",
        "full_page_writes=off",
      ],
      { ...ids, stdio: ["ignore", "ignore", "pipe"] },
    );
    let log = "";
    child.stderr?.on("data", (d) => (log = (log + d).slice(-4000)));
    server = child;
    await waitReady(port, () => log, child);
  };
  const halt = async () => {
    if (server && server.exitCode === null) {
      const exited = new Promise((r) => server!.once("exit", r));
      server.kill("SIGINT"); // fast shutdown
      await exited;
    }
  };
  await launch();
  return {
    port,
    url: (database) =>
      `postgres://postgres${o.password ? `:${encodeURIComponent(o.password)}` : ""}@127.0.0.1:${port}/${database}`,
    halt,
    start: launch,
    async stop() {
      await halt();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function waitReady(port: number, log: () => string, server: ChildProcess) {
  for (let i = 0; i < 200; i++) {
    if (server.exitCode !== null) throw new Error(`postgres exited: ${log()}`);
    try {
      execFileSync(path.join(bin, "pg_isready"), ["-h", "127.0.0.1", "-p", String(port)], { stdio: "ignore" });
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`postgres did not start: ${log()}`);
}
