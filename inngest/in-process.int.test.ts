import { randomUUID } from "node:crypto";
import { eventType, Inngest, NonRetriableError } from "inngest";
import { z } from "zod";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { failRun } from "@/lib/backups/fail";
import { getBackup } from "@/lib/backups/queries";
import { db } from "@/lib/db";
import { createServer } from "@/lib/servers/mutations";
import { nextDue } from "@/lib/workflows/queue";
import { insertBackupRow, setBackupRow } from "@/test/arrange";
import { signedUpUser } from "@/test/factories";
import { InProcessEngine } from "./in-process";

// The engine's own behaviour (what a server adds to a run) with small functions; the workflows
// themselves run through it in functions/*.int.test.ts.

const quiet = { info: () => {}, warn: () => {}, error: () => {}, debug: () => {} };
const client = new Inngest({ id: "engine-test", isDev: true, logger: quiet });
const ordered = eventType("test/order.placed", { schema: z.object({ order: z.string(), shop: z.string() }) });
const shipped = eventType("test/order.shipped", { schema: z.object({ order: z.string() }) });
const fast = { retryDelayMs: () => 5 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** An engine with one function that runs once per order (its idempotency key), and the orders it ran. */
function oncePerOrder(id: string) {
  const runs: string[] = [];
  const once = client.createFunction(
    { id, triggers: [ordered], idempotency: "event.data.order" },
    async ({ event }) => void runs.push(event.data.order),
  );
  return { engine: new InProcessEngine([once], fast), runs };
}

describe("InProcessEngine", () => {
  it("runs every function an event triggers; an event sent with step.sendEvent triggers the next", async () => {
    const log: string[] = [];
    const place = client.createFunction({ id: "place", triggers: [ordered] }, async ({ event, step }) => {
      await step.run("record", () => log.push(`placed ${event.data.order}`));
      await step.sendEvent("ship", shipped.create({ order: event.data.order }, { id: `ship-${event.data.order}` }));
    });
    const audit = client.createFunction({ id: "audit", triggers: [ordered] }, async ({ event }) => {
      log.push(`audited ${event.data.order}`);
    });
    const ship = client.createFunction({ id: "ship", triggers: [shipped] }, async ({ event, step }) => {
      await step.run("record", () => log.push(`shipped ${event.data.order}`));
    });
    const engine = new InProcessEngine([place, audit, ship], fast);
    engine.send([ordered.create({ order: "o1", shop: "s" })]);
    await engine.idle();
    expect(log.sort()).toEqual(["audited o1", "placed o1", "shipped o1"]);
  });

  it("starts one run for events with the same id, and one per idempotency key", async () => {
    const { engine, runs } = oncePerOrder("once");
    const a = ordered.create({ order: "a", shop: "s" }, { id: "evt-a" });
    expect(await engine.send([a, a])).toEqual(["evt-a", "evt-a"]);
    engine.send([ordered.create({ order: "a", shop: "s" }), ordered.create({ order: "b", shop: "s" })]);
    await engine.idle();
    expect(runs).toEqual(["a", "b"]);
  });

  it("records an event's id with its runs only: an event that could not be queued is queued when sent again", async () => {
    const { engine, runs } = oncePerOrder("once-queued");
    const id = `evt-${randomUUID()}`;
    // The queue's JSON column cannot hold a BigInt: the insert fails after the id and key were looked up.
    const unstorable = { id, name: ordered.name, data: { order: "c", shop: "s", at: 1n } };
    await expect(engine.send([unstorable])).rejects.toThrow(/BigInt/);
    expect(await engine.send([ordered.create({ order: "c", shop: "s" }, { id })])).toEqual([id]);
    await engine.idle();
    expect(runs).toEqual(["c"]);
  });

  it("queues one run per idempotency key when two sends take the same keys in opposite orders", async () => {
    const { engine, runs } = oncePerOrder("once-crossed");
    const expected: string[] = [];
    for (let round = 0; round < 3; round++) {
      // Different events for the same orders (a dispatch and its retry): each send waits for the other's keys.
      const send = (orders: string[]) =>
        engine.send(orders.map((order) => ordered.create({ order, shop: "s" }, { id: randomUUID() })));
      const [x, y] = [`x${round}`, `y${round}`];
      expected.push(x, y);
      await Promise.all([send([x, y]), send([y, x])]);
    }
    await engine.idle();
    expect(runs.sort()).toEqual(expected.sort());
  });

  it("keeps to concurrency limits per key, and runs different keys side by side", async () => {
    const spans: Record<string, [number, number][]> = {};
    const perShop = client.createFunction(
      { id: "per-shop", triggers: [ordered], concurrency: [{ key: "event.data.shop", limit: 1 }] },
      async ({ event }) => {
        const start = Date.now();
        await sleep(40);
        (spans[event.data.shop] ??= []).push([start, Date.now()]);
      },
    );
    const engine = new InProcessEngine([perShop], fast);
    engine.send(["1", "2", "3"].map((o) => ordered.create({ order: o, shop: "x" })));
    engine.send([ordered.create({ order: "4", shop: "y" })]);
    await engine.idle();
    const x = spans.x!.sort((p, q) => p[0] - q[0]);
    expect(x).toHaveLength(3);
    for (let i = 1; i < x.length; i++) expect(x[i]![0]).toBeGreaterThanOrEqual(x[i - 1]![1]);
    expect(spans.y![0]![0]).toBeLessThan(x[1]![0]); // y did not wait for x's queue
  });

  it("retries from the failed step, then runs onFailure once retries run out", async () => {
    const calls: string[] = [];
    const failures: string[] = [];
    const flaky = client.createFunction(
      {
        id: "flaky",
        triggers: [ordered],
        retries: 2,
        onFailure: async ({ error, step }) => {
          await step.run("mark-failed", () => failures.push(error.message));
        },
      },
      async ({ step }) => {
        await step.run("prepare", () => calls.push("prepare"));
        await step.run("work", () => {
          calls.push("work");
          throw new Error(`attempt ${calls.length - 1} failed`);
        });
      },
    );
    const engine = new InProcessEngine([flaky], fast);
    engine.send([ordered.create({ order: "o", shop: "s" })]);
    await engine.idle();
    expect(calls).toEqual(["prepare", "work", "work", "work"]);
    expect(failures).toEqual(["attempt 3 failed"]);
  });

  it("records how a run went once the database takes the write again, so the run does not stay claimed", async () => {
    const d = await db();
    // The database refuses the first two writes that end a run of this function (as a dropped
    // connection would); a sequence counts them, as its values survive the refused statement.
    await d.execute(sql`create sequence refused_writes`);
    await d.execute(
      sql.raw(`create function refuse_run_end() returns trigger language plpgsql as $$
        begin
          if nextval('refused_writes') <= 2 then raise exception 'the database is not taking writes'; end if;
          return old;
        end $$`),
    );
    await d.execute(
      sql.raw(`create trigger refuse_run_end before delete on workflow_runs for each row
        when (old.function_id = 'refused-end') execute function refuse_run_end()`),
    );
    try {
      let runs = 0;
      const fn = client.createFunction({ id: "refused-end", triggers: [ordered] }, async () => void runs++);
      const engine = new InProcessEngine([fn], fast);
      engine.send([ordered.create({ order: "o", shop: "s" })]);
      await engine.idle(); // resolves only once no run of it is left in the queue
      expect(runs).toBe(1);
      expect((await nextDue(["refused-end"])).pending).toBe(0);
      const result = await d.execute(sql`select last_value::int as n from refused_writes`);
      const rows = (Array.isArray(result) ? result : (result as unknown as { rows: unknown[] }).rows) as {
        n: number;
      }[];
      expect(rows).toEqual([{ n: 3 }]); // refused twice, then taken
      await engine.stop();
    } finally {
      await d.execute(sql`drop trigger refuse_run_end on workflow_runs`);
      await d.execute(sql`drop function refuse_run_end`);
      await d.execute(sql`drop sequence refused_writes`);
    }
  });

  it("does not retry a NonRetriableError", async () => {
    let attempts = 0;
    const failures: string[] = [];
    const refused = client.createFunction(
      {
        id: "refused",
        triggers: [ordered],
        retries: 3,
        onFailure: async ({ error }) => void failures.push(error.message),
      },
      async () => {
        attempts++;
        throw new NonRetriableError("settings are wrong");
      },
    );
    const engine = new InProcessEngine([refused], fast);
    engine.send([ordered.create({ order: "o", shop: "s" })]);
    await engine.idle();
    expect(attempts).toBe(1);
    expect(failures).toEqual(["settings are wrong"]);
  });

  it("leaves a run another instance took over mid-attempt to it: no onFailure from the old owner, its job still runs", async () => {
    const user = await signedUpUser("Engine");
    const t = await user.team("admin");
    const { id: serverId } = await createServer(t, { kind: "local", name: "box", workDir: "/tmp" });
    const backupId = await insertBackupRow({
      teamId: t.id,
      serverId,
      trigger: "manual",
      encrypted: false,
      fileName: "x.tar.gz",
      status: "running",
      attempts: 1,
      heartbeatAt: new Date(),
    });
    const d = await db();
    const rows = async () => {
      const result = await d.execute(
        sql`select claimed_by, attempts, failure from workflow_runs where function_id = 'taken-over'`,
      );
      return (Array.isArray(result) ? result : (result as unknown as { rows: unknown[] }).rows) as object[];
    };
    const failures: string[] = [];
    let stopped!: () => void;
    const attemptStopped = new Promise<void>((resolve) => (stopped = resolve));
    // As run-backup: onFailure fails the job. The attempt sees instance B, which judged this one
    // gone, claim the run and the job (each claim counting an attempt), and stops (RunStopped).
    const fn = client.createFunction(
      {
        id: "taken-over",
        triggers: [ordered],
        retries: 3,
        onFailure: async ({ error, step }) => {
          await step.run("mark-failed", () => {
            failures.push(error.message);
            return failRun(t.id, backupId, error.message);
          });
        },
      },
      async () => {
        await d.execute(
          sql`update workflow_runs set claimed_by = 'ins_b', attempts = attempts + 1 where function_id = 'taken-over'`,
        );
        await setBackupRow(backupId, { claimedBy: "ins_b", attempts: 2 });
        stopped();
        throw new NonRetriableError("A later attempt took over the backup.");
      },
    );
    const engine = new InProcessEngine([fn], fast);
    try {
      engine.send([ordered.create({ order: "o", shop: "s" })]);
      await attemptStopped;
      await engine.stop(); // resolves once the old owner's run has ended
      expect(await getBackup(t, backupId)).toMatchObject({ status: "running", error: null });
      expect(failures).toEqual([]);
      expect(await rows()).toEqual([{ claimed_by: "ins_b", attempts: 2, failure: null }]);
    } finally {
      await d.execute(sql`delete from workflow_runs where function_id = 'taken-over'`);
    }
  });

  it("runs a cron function when its timer (or runCron) fires", async () => {
    const ticks: unknown[] = [];
    const tick = client.createFunction({ id: "tick", triggers: [{ cron: "0 0 1 1 *" }] }, async ({ event }) => {
      ticks.push(event.data);
    });
    const engine = new InProcessEngine([tick], fast);
    engine.runCron(tick, "0 0 1 1 *");
    await engine.idle();
    expect(ticks).toEqual([{ cron: "0 0 1 1 *" }]);
  });

  it("refuses a concurrency key it cannot evaluate", () => {
    const odd = client.createFunction(
      { id: "odd", triggers: [ordered], concurrency: [{ key: "event.data.shop + 'x'", limit: 1 }] },
      async () => null,
    );
    expect(() => new InProcessEngine([odd])).toThrow(/event\.data\.<field>/);
  });
});
