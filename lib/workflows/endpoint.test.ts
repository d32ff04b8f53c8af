import { Inngest } from "inngest";
import { serve } from "inngest/next";
import { NextRequest } from "next/server";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { registerWorkflowEndpoint, stepsFinished, TAKES_STEPS_WHILE_STOPPING_MS, workflowEndpoint } from "./endpoint";
import { markStopping } from "./stopping";

const url = "http://127.0.0.1:3000/api/inngest";

describe("workflowEndpoint", () => {
  it("is not found while no Inngest server runs the workflows", async () => {
    for (const method of ["GET", "POST", "PUT"] as const) {
      const res = await workflowEndpoint(method)(new NextRequest(url, { method }), undefined);
      expect(res.status).toBe(404);
    }
  });

  it("hands requests to the endpoint registered at start", async () => {
    const client = new Inngest({ id: "endpoint-test", isDev: true });
    const fn = client.createFunction({ id: "noop", triggers: [{ event: "test/noop" }] }, async () => null);
    registerWorkflowEndpoint(serve({ client, functions: [fn] }));
    const res = await workflowEndpoint("GET")(new NextRequest(url), undefined);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ function_count: 1, mode: "dev" });
  });
});

describe("a stopping instance (SIGTERM with an Inngest server)", () => {
  // A function whose one step tells the test it started, then waits until the test lets it go,
  // served by the SDK as at start.
  const client = new Inngest({ id: "drain-test", isDev: true });
  const deferred = () => {
    let resolve = () => {};
    const promise = new Promise<void>((r) => (resolve = r));
    return { promise, resolve };
  };
  let started = deferred();
  let gate = deferred();
  const fn = client.createFunction({ id: "slow", triggers: [{ event: "test/slow" }] }, async ({ step }) =>
    step.run("wait", async () => {
      started.resolve();
      await gate.promise;
      return "done";
    }),
  );
  beforeAll(() => registerWorkflowEndpoint(serve({ client, functions: [fn] })));
  // The request an Inngest server sends to run the function's next step, once it has started.
  async function step() {
    started = deferred();
    gate = deferred();
    const answer = workflowEndpoint("POST")(
      new NextRequest(`${url}?fnId=drain-test-slow&stepId=step`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          event: { name: "test/slow", data: {} },
          events: [{ name: "test/slow", data: {} }],
          steps: {},
          ctx: { run_id: `run-${Math.random()}`, attempt: 0, stack: { stack: [], current: 0 } },
          version: 2,
        }),
      }),
      undefined,
    );
    await started.promise;
    return { answer, release: gate.resolve };
  }
  const pending = (p: Promise<unknown>) =>
    Promise.race([p.then(() => false), new Promise((r) => setTimeout(() => r(true), 100))]);

  it("waits for the grace period at most, and says how many steps were still running", async () => {
    const running = await step();
    const since = Date.now();
    expect(await stepsFinished(300)).toBe(1);
    expect(Date.now() - since).toBeGreaterThanOrEqual(290);
    running.release();
    const answer = await running.answer;
    expect(answer.status).toBe(206); // the step ran; the function goes on
    // Until its answer has been sent, the step still counts.
    expect(await stepsFinished(50)).toBe(1);
    expect(await answer.text()).toContain('"data":"done"');
    expect(await stepsFinished(50)).toBe(0);
  });

  it("lets the steps it runs finish, takes new ones while the proxy may still send them, then answers 503 for the Inngest server to send elsewhere", async () => {
    const running = await step();
    markStopping();
    const finished = stepsFinished(60_000);
    // The proxy has not yet seen /api/ready fail: a step sent meanwhile runs here.
    const late = await step();
    vi.useFakeTimers({ toFake: ["Date"], now: Date.now() + TAKES_STEPS_WHILE_STOPPING_MS + 1_000 });
    try {
      const refused = await workflowEndpoint("POST")(new NextRequest(url, { method: "POST", body: "{}" }), undefined);
      expect(refused.status).toBe(503);
      expect(await refused.json()).toEqual({
        error: "This Coffer instance is stopping; the step runs again on another one.",
      });
    } finally {
      vi.useRealTimers();
    }
    // Registration and introspection still answer.
    expect((await workflowEndpoint("GET")(new NextRequest(url), undefined)).status).toBe(200);
    running.release();
    expect(await (await running.answer).text()).toContain('"data":"done"');
    expect(await pending(finished)).toBe(true); // the late one still runs
    late.release();
    expect(await (await late.answer).text()).toContain('"data":"done"');
    expect(await finished).toBe(0);
  });
});
