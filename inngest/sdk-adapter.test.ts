import { InngestTestEngine } from "@inngest/test";
import { eventType, Inngest, NonRetriableError } from "inngest";
import { z } from "zod";
import { describe, expect, it } from "vitest";
import { configOf, functionRun, type OutgoingEvent } from "./sdk-adapter";

// What the in-process engine relies on of the SDK (see sdk-adapter.ts). A failure here after an
// upgrade of inngest or @inngest/test means the adapter must change, not this test.

const quiet = { info: () => {}, warn: () => {}, error: () => {}, debug: () => {} };
const client = new Inngest({ id: "adapter-test", isDev: true, logger: quiet });
const pinged = eventType("test/ping", { schema: z.object({ n: z.number() }) });
const event = (n = 1) => ({ id: `ping-${n}`, name: pinged.name, data: { n }, ts: Date.now() });

/** An event sink that records what reaches it. */
function sink() {
  const sent: OutgoingEvent[] = [];
  return {
    sent,
    send: async (events: OutgoingEvent[]) => (sent.push(...events), events.map((e) => e.id ?? "generated")),
  };
}

describe("configOf reads a function's configuration", () => {
  it("triggers, retries, idempotency, concurrency and the failure handler", () => {
    const fn = client.createFunction(
      {
        id: "configured",
        triggers: [pinged, { event: "test/other" }, { cron: "*/5 * * * *" }],
        retries: 2,
        idempotency: "event.data.n",
        concurrency: [{ key: "event.data.n", limit: 1 }, { limit: 3 }],
        onFailure: async () => {},
      },
      async () => null,
    );
    expect(configOf(fn)).toEqual({
      id: "configured",
      events: ["test/ping", "test/other"],
      crons: ["*/5 * * * *"],
      retries: 2,
      idempotency: "event.data.n",
      concurrency: [{ key: "event.data.n", limit: 1 }, { limit: 3 }],
      hasFailureHandler: true,
    });
    const plain = client.createFunction({ id: "plain", triggers: [pinged], concurrency: 4 }, async () => null);
    expect(configOf(plain)).toMatchObject({
      retries: undefined,
      concurrency: [{ limit: 4 }],
      hasFailureHandler: false,
    });
  });
});

describe("functionRun", () => {
  it("runs the real steps and, on the next attempt, resumes at the step that failed", async () => {
    const ran: string[] = [];
    let flaky = 0;
    const fn = client.createFunction({ id: "resumes", triggers: [pinged] }, async ({ event, step }) => {
      const a = await step.run("first", () => (ran.push("first"), event.data.n + 1));
      const b = await step.run("second", () => {
        ran.push("second");
        if (++flaky === 1) throw new Error("transient");
        return a * 10;
      });
      return b;
    });
    const run = functionRun(fn, event(4), sink().send);
    expect(await run.attempt()).toEqual({ name: "Error", message: "transient", permanent: false });
    expect(await run.attempt()).toBeUndefined();
    expect(ran).toEqual(["first", "second", "second"]);
  });

  it("resumes in a new run (another process) from the completed steps, stored as JSON", async () => {
    const ran: string[] = [];
    const fn = client.createFunction({ id: "stored", triggers: [pinged] }, async ({ event, step }) => {
      const a = await step.run("first", () => (ran.push("first"), { n: event.data.n + 1 }));
      await step.run("nothing", () => void ran.push("nothing"));
      await step.run("second", () => {
        ran.push("second");
        if (ran.length === 3) throw new Error("the process ended");
      });
      return a.n;
    });
    const first = functionRun(fn, event(4), sink().send);
    await first.attempt();
    const stored = JSON.parse(JSON.stringify(first.steps())) as Record<string, unknown>;
    expect(Object.keys(stored)).toHaveLength(2);
    const again = functionRun(fn, event(4), sink().send, stored);
    expect(await again.attempt()).toBeUndefined();
    expect(ran).toEqual(["first", "nothing", "second", "second"]);
  });

  it("reports NonRetriableError as permanent", async () => {
    const fn = client.createFunction({ id: "permanent", triggers: [pinged] }, async ({ step }) =>
      step.run("refuse", () => {
        throw new NonRetriableError("bad settings");
      }),
    );
    expect(await functionRun(fn, event(), sink().send).attempt()).toEqual({
      name: "NonRetriableError",
      message: "bad settings",
      permanent: true,
    });
  });

  it("routes step.sendEvent to the sink once, as a memoized step", async () => {
    const out = sink();
    let failures = 0;
    const fn = client.createFunction({ id: "sends", triggers: [pinged] }, async ({ event, step }) => {
      const sent = await step.sendEvent("fan-out", [
        pinged.create({ n: event.data.n + 1 }, { id: "next" }),
        { name: "test/other", data: {} },
      ]);
      await step.run("after", () => {
        if (++failures === 1) throw new Error("after the send");
      });
      return sent;
    });
    const run = functionRun(fn, event(1), out.send);
    expect(await run.attempt()).toMatchObject({ message: "after the send" });
    expect(await run.attempt()).toBeUndefined();
    expect(out.sent).toMatchObject([
      { id: "next", name: "test/ping", data: { n: 2 } },
      { name: "test/other", data: {} },
    ]);
  });

  it("fail() runs onFailure with the triggering event and the error; its sends are routed too", async () => {
    const out = sink();
    const seen: unknown[] = [];
    const fn = client.createFunction(
      {
        id: "fails",
        triggers: [pinged],
        onFailure: async ({ event, error, step }) => {
          await step.run("record", () => {
            seen.push({ data: event.data.event.data, message: error.message, fn: event.data.function_id });
          });
          await step.sendEvent("notify", { name: "test/failed", data: { n: event.data.event.data.n } });
        },
      },
      async () => {
        throw new NonRetriableError("gave up");
      },
    );
    const run = functionRun(fn, event(7), out.send);
    const failure = await run.attempt();
    expect(await run.fail(failure!)).toBeUndefined();
    expect(seen).toEqual([{ data: { n: 7 }, message: "gave up", fn: "adapter-test-fails" }]);
    expect(out.sent).toMatchObject([{ name: "test/failed", data: { n: 7 } }]);
  });

  it("fail() reports a failure handler that fails", async () => {
    const fn = client.createFunction(
      {
        id: "handler-fails",
        triggers: [pinged],
        onFailure: async ({ step }) => {
          await step.run("mark-failed", () => {
            throw new Error("database gone");
          });
        },
      },
      async () => null,
    );
    const failure = { name: "Error", message: "boom", permanent: false };
    expect(await functionRun(fn, event(), sink().send).fail(failure)).toMatchObject({ message: "database gone" });
  });
});

describe("why step.sendEvent is routed", () => {
  it("InngestTestEngine leaves step.sendEvent to the client, which needs a server", async () => {
    const cloud = new Inngest({ id: "no-server", isDev: false, logger: quiet });
    const fn = cloud.createFunction({ id: "unrouted", triggers: [pinged] }, async ({ step }) =>
      step.sendEvent("send", { name: "test/other", data: {} }),
    );
    const out = await new InngestTestEngine({ function: fn, events: [event()], transformCtx: (c) => c }).execute();
    expect((out as { error?: { message?: string } }).error?.message).toMatch(/Failed to send event/);
  });
});
