import { execFileSync } from "node:child_process";
import { connect, createServer as createNetServer, type Server, type Socket } from "node:net";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { servers } from "@/db/schema";
import { signedUpUser } from "@/test/factories";
import { startSshd, type TestSshd } from "@/test/servers/sshd";
import { db } from "../db";
import { ReachError, runCommand } from "../reach";
import { withServer } from "./connect";
import { createServer } from "./mutations";
import { getServer } from "./queries";

// Trust on first use when two connections race to pin a server's host key.

let sshd: TestSshd;
const relays: Server[] = [];
const sockets = new Set<Socket>();

beforeAll(async () => {
  sshd = await startSshd();
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await Promise.all(relays.map((r) => new Promise((resolve) => r.close(resolve))));
  await sshd?.stop();
});

/**
 * A TCP relay to the test sshd that runs `meanwhile` before it passes a connection on: after
 * withServer read the server's row (no key pinned yet), before this connection's handshake.
 */
async function relay(meanwhile: () => Promise<void>): Promise<number> {
  const server = createNetServer((client) => {
    sockets.add(client);
    client.pause();
    void meanwhile().then(() => {
      const upstream = connect(sshd.port, sshd.host);
      sockets.add(upstream);
      client.pipe(upstream).pipe(client);
      client.on("error", () => upstream.destroy()).on("close", () => upstream.destroy());
      upstream.on("error", () => client.destroy()).on("close", () => client.destroy());
      client.resume();
    });
  });
  relays.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as { port: number }).port;
}

/** A team's SSH server reached through a relay that pins `key` on the row while this connection is under way. */
async function racedServer(key: () => string) {
  const a = await signedUpUser("Racer");
  const t = await a.team("member");
  let id = "";
  const port = await relay(async () => {
    await (await db()).update(servers).set({ hostKey: key() }).where(eq(servers.id, id));
  });
  ({ id } = await createServer(t, {
    kind: "ssh",
    name: `box-${port}`,
    host: sshd.host,
    port,
    username: sshd.username,
    authMethod: "key",
    privateKey: sshd.privateKey,
    workDir: "/tmp",
  }));
  return { t, id };
}

describe("withServer pinning a host key on first use", () => {
  it("refuses the connection when another one pinned a different key meanwhile, and offers this key", async () => {
    const other = `SHA256:${Buffer.alloc(32, 7).toString("base64").replace(/=+$/, "")}`;
    const { t, id } = await racedServer(() => other);
    let ran = false;
    const error = await withServer(t, id, async () => void (ran = true)).catch((e: unknown) => e);
    expect(ran).toBe(false);
    expect(error).toBeInstanceOf(ReachError);
    expect(error).toMatchObject({ reason: "host-key-changed", hostKey: sshd.hostKeyFingerprint });
    expect((error as Error).message).toContain(
      `it now presents ${sshd.hostKeyFingerprint} (ssh-ed25519), but ${other} was accepted before.`,
    );
    expect(await getServer(t, id)).toMatchObject({ hostKey: other, offeredHostKey: sshd.hostKeyFingerprint });
  });

  it("uses the connection when the key pinned meanwhile is the one it saw", async () => {
    const { t, id } = await racedServer(() => sshd.hostKeyFingerprint);
    expect(await withServer(t, id, async (reach) => reach.label)).toMatch(/^root@127\.0\.0\.1:\d+$/);
    expect(await getServer(t, id)).toMatchObject({ hostKey: sshd.hostKeyFingerprint, offeredHostKey: null });
  });
});

describe("a deadline", () => {
  it("stops a command that never returns and rejects, naming the server", async () => {
    const t = await (await signedUpUser("Dee")).team("admin");
    const { id } = await createServer(t, { kind: "local", name: "slow-mount", workDir: "/var/tmp" });
    const marker = `${37 + Math.random()}`.slice(0, 9); // a sleep of its own, found by its argument
    const started = Date.now();
    await expect(
      withServer(t, id, (reach) => runCommand(reach, ["sleep", marker]), { deadlineMs: 500 }),
    ).rejects.toThrow("slow-mount did not finish within 0.5 s: Coffer stopped its commands and tries again later.");
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(() => execFileSync("pgrep", ["-f", `^sleep ${marker}$`])).toThrow(); // no such process left
  });
});
