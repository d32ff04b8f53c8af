import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { signedUpUser } from "@/test/factories";
import { startReceiver, type Receiver } from "@/test/servers/webhook-receiver";
import { createChannel } from "./channels";
import { sendTest } from "./deliveries";
import { TIMEOUT_MS } from "./http";
import { listDeliveries } from "./queries";

// A resolver that takes its time: the system's own cannot be slowed down from a test.
const slowName = "slow-dns.test";
const dns = vi.hoisted(() => ({ delayMs: 0 }));
vi.mock("node:dns/promises", async (original) => {
  const real = await original<typeof import("node:dns/promises")>();
  const lookup = async (name: string, options: object) => {
    if (name !== slowName) return real.lookup(name, options);
    await new Promise((r) => setTimeout(r, dns.delayMs));
    return [{ address: "127.0.0.1", family: 4 }];
  };
  return { ...real, lookup };
});

let receiver: Receiver;
beforeAll(async () => {
  receiver = await startReceiver();
});
afterAll(() => receiver?.stop());

describe("an attempt's time limit", () => {
  it("counts the DNS look-up too: a slow look-up and a slow answer together fail at 10 s", async () => {
    const t = await (await signedUpUser("Deadline")).team("admin");
    const { id } = await createChannel(t, {
      kind: "webhook",
      url: `http://${slowName}:${receiver.port}/late`,
      description: "",
      events: [],
    });
    receiver.on("/late", { status: 200, body: "too late", delayMs: 6_000 });
    dns.delayMs = 6_000;
    const started = Date.now();
    const result = await sendTest(t, id);
    const took = Date.now() - started;
    expect(receiver.at("/late")).toHaveLength(1); // the look-up answered in time; the receiver did not
    expect(result).toMatchObject({ ok: false, error: `No answer from ${slowName}:${receiver.port} within 10 s.` });
    expect(result.latencyMs).toBeLessThan(TIMEOUT_MS + 500);
    expect(took).toBeGreaterThanOrEqual(TIMEOUT_MS - 100);
    expect(took).toBeLessThan(TIMEOUT_MS + 2_000);
    expect((await listDeliveries(t, id))[0]).toMatchObject({ status: "failed", error: result.error });
  });
});
