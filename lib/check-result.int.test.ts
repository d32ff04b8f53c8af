import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signedUpUser } from "@/test/factories";
import { startPgCluster, type PgCluster } from "@/test/pg-cluster";
import { startSshd, type TestSshd } from "@/test/servers/sshd";
import { savedThenTested } from "./check-result";
import { createDestination, updateDestination } from "./destinations/mutations";
import { getDestination, listDestinations } from "./destinations/queries";
import { testDestination } from "./destinations/use";
import { AppError } from "./errors";
import { testServer, testSource } from "./servers/checks";
import { createServer, updateServer } from "./servers/mutations";
import { getServer, getSource } from "./servers/queries";
import { createSource, updateSource } from "./servers/source-mutations";

let sshd: TestSshd;
let pg: PgCluster;
const dbPassword = "right-Pw-71";

beforeAll(async () => {
  [sshd, pg] = await Promise.all([startSshd(), startPgCluster({ password: dbPassword })]);
});
afterAll(async () => {
  await Promise.all([sshd?.stop(), pg?.stop()]);
});

const refusal = (p: Promise<unknown>) =>
  p.then(
    () => "saved",
    (e: unknown) => (e instanceof AppError ? { code: e.code, message: e.message, fields: e.fieldErrors } : String(e)),
  );

describe("checks at save", () => {
  it("a destination folder that leaves its root is refused at save, as Test would refuse it; nothing is stored", async () => {
    const a = await signedUpUser("Alice");
    const t = await a.team("admin");
    expect(await refusal(createDestination(t, { kind: "local", name: "escape", prefix: "../escape" }))).toEqual({
      code: "VALIDATION",
      message: 'Invalid prefix "../escape": ".." segments are not allowed.',
      fields: { prefix: ['".." segments are not allowed.'] },
    });
    expect(await listDestinations(t)).toEqual([]);
    const { id } = await createDestination(t, { kind: "local", name: "disk", prefix: "nightly" });
    expect(
      await refusal(updateDestination(t, { destinationId: id, kind: "local", name: "disk", prefix: "a/../../b" })),
    ).toMatchObject({ code: "VALIDATION", fields: { prefix: ['".." segments are not allowed.'] } });
    expect((await getDestination(t, id)).settings).toEqual({ prefix: "nightly" });
  });

  it("a source with a wrong password is saved, and its failed test shows on it until a later test passes", async () => {
    const a = await signedUpUser("Alice");
    const t = await a.team("member");
    const server = await savedThenTested(
      createServer(t, {
        kind: "ssh",
        name: "db1",
        host: sshd.host,
        port: sshd.port,
        username: sshd.username,
        authMethod: "key",
        privateKey: sshd.privateKey,
        workDir: "/tmp",
      }),
      (id) => testServer(t, id),
    );
    expect(server.check.ok).toBe(true);
    expect(await getServer(t, server.id)).toMatchObject({ checkOk: true });

    const input = {
      serverId: server.id,
      kind: "postgres" as const,
      name: "main",
      pgHost: "127.0.0.1",
      pgPort: pg.port,
      pgDatabase: "postgres",
      pgUser: "postgres",
      pgSslmode: "disable" as const,
      pgPassword: "wrong-password",
    };
    const saved = await savedThenTested(createSource(t, input), (id) => testSource(t, id));
    const refused = `PostgreSQL at 127.0.0.1:${pg.port} refused user postgres: check the user name and password.`;
    expect(saved.check).toMatchObject({ ok: false, message: refused });
    expect(await getSource(t, saved.id)).toMatchObject({ checkOk: false, checkMessage: refused });

    const fixed = await savedThenTested(
      updateSource(t, { ...input, sourceId: saved.id, pgPassword: dbPassword }),
      (id) => testSource(t, id),
    );
    expect(fixed.check.ok).toBe(true);
    expect(await getSource(t, saved.id)).toMatchObject({
      checkOk: true,
      checkMessage: expect.stringMatching(/^Readable: postgres /),
    });
  });

  it("a server that cannot be reached is saved with the failure on it; a test that cannot run does not undo the save", async () => {
    const a = await signedUpUser("Alice");
    const t = await a.team("member");
    const input = {
      kind: "ssh" as const,
      name: "gone",
      host: "127.0.0.1",
      port: 1,
      username: "root",
      authMethod: "password" as const,
      password: "pw",
      workDir: "/tmp",
    };
    const saved = await savedThenTested(createServer(t, input), (id) => testServer(t, id));
    expect(saved.check.ok).toBe(false);
    expect(await getServer(t, saved.id)).toMatchObject({ checkOk: false, checkMessage: saved.check.message });

    const again = await savedThenTested(updateServer(t, { ...input, serverId: saved.id, name: "renamed" }), () =>
      Promise.reject(new Error("boom")),
    );
    expect(again.check).toEqual({
      ok: false,
      message: "Saved, but the test could not run: press Test to try again.",
      facts: {},
    });
    expect(await getServer(t, saved.id)).toMatchObject({ name: "renamed" });
    // Destinations too: a saved local disk is tested at once.
    const admin = await a.team("admin");
    const disk = await savedThenTested(createDestination(admin, { kind: "local", name: "disk" }), (id) =>
      testDestination(admin, id),
    );
    expect(disk.check.ok).toBe(true);
    expect(await getDestination(admin, disk.id)).toMatchObject({ checkOk: true });
  });
});
