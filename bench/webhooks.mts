// npm run bench:webhooks [-- <events> <endpoints>]   (default 10 000 events to 20 endpoints)
// Notification delivery at volume, on the embedded setup (PGlite, in-process workflows): 20
// teams with one webhook endpoint each (one of them dead: it accepts connections and never
// answers), 10 000 events produced round-robin through the outbox, delivered by the real
// workflows (dispatch-notifications → deliver-notifications per endpoint) to receivers in another
// process. Baseline, in the same process: the same bodies POSTed straight to the healthy
// receivers, as many at once per endpoint, without signing, queue or database. Prints figures only.
import { spawn } from "node:child_process";
import { request } from "node:http";
import { createInterface } from "node:readline";
import { rmSync } from "node:fs";
import { embeddedCoffer } from "./embedded";

const events = Number(process.argv[2] ?? 10_000);
const endpoints = Number(process.argv[3] ?? 20);
const dataDir = embeddedCoffer("webhooks");

const { signUp } = await import("@/lib/auth/users");
const { teamForUser } = await import("@/lib/teams/context");
const { createTeam } = await import("@/lib/teams/mutations");
const { createChannel } = await import("@/lib/webhooks/channels");
const { enqueue } = await import("@/lib/notifications/emit");
const { exampleData } = await import("@/lib/notifications/examples");
const { notificationsQueued } = await import("@/lib/notifications/wake");
const { listChannels } = await import("@/lib/webhooks/queries");
const { IN_FLIGHT } = await import("@/lib/webhooks/deliver");
const { inProcessEngine } = await import("@/inngest/in-process");

const receivers = spawn(process.execPath, ["bench/webhook-receivers.mjs", String(endpoints - 1)], {
  stdio: ["ignore", "pipe", "inherit"],
});
const { ports, dead, control } = JSON.parse(
  await new Promise<string>((resolve) => createInterface({ input: receivers.stdout! }).once("line", resolve)),
) as { ports: number[]; dead: number; control: number };
const get = (port: number, path: string) =>
  new Promise<string>((resolve, reject) =>
    request({ host: "127.0.0.1", port, path, agent: false }, (res) => {
      let body = "";
      res.on("data", (c) => (body += c));
      res.on("end", () => resolve(body));
    })
      .on("error", reject)
      .end(),
  );
const received = async () => (JSON.parse(await get(control, "/")) as number[]).reduce((a, b) => a + b, 0);
const mib = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;

try {
  const { userId, teamSlug } = await signUp({
    name: "Bench",
    email: "bench@example.test",
    password: "bench-password-1",
    teamName: "Bench 0",
  });
  const actor = { userId, label: "bench@example.test", ip: null };
  const slugs = [teamSlug];
  for (let i = 1; i < endpoints; i++) slugs.push((await createTeam(actor, { name: `Bench ${i}` })).slug);
  const teams = await Promise.all(slugs.map((s) => teamForUser(actor, s, "owner")));
  const channels: string[] = [];
  for (const [i, t] of teams.entries()) {
    const port = i < ports.length ? ports[i]! : dead;
    channels.push(
      (
        await createChannel(t, {
          kind: "webhook",
          url: `http://127.0.0.1:${port}/hook`,
          description: `endpoint ${i}`,
          events: [],
        })
      ).id,
    );
  }
  const healthyEvents = Math.ceil(events * (ports.length / endpoints));
  const body = JSON.stringify({
    type: "backup.succeeded",
    data: exampleData("backup.succeeded", "http://127.0.0.1/bench"),
  });

  // Baseline: the same bodies straight to the healthy receivers, IN_FLIGHT at a time per endpoint.
  const before = await received();
  const baselineStart = performance.now();
  await Promise.all(
    ports.map(async (port, i) => {
      const mine = Math.floor(healthyEvents / ports.length) + (i < healthyEvents % ports.length ? 1 : 0);
      let next = 0;
      const worker = async () => {
        while (next++ < mine)
          await new Promise<void>((resolve, reject) =>
            request(
              {
                host: "127.0.0.1",
                port,
                path: "/hook",
                method: "POST",
                agent: false,
                headers: { "content-type": "application/json" },
              },
              (res) => {
                res.resume();
                res.on("end", resolve);
              },
            )
              .on("error", reject)
              .end(body),
          );
      };
      await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
    }),
  );
  const baselineS = (performance.now() - baselineStart) / 1000;
  if ((await received()) - before !== healthyEvents) throw new Error("the baseline lost requests");

  // Coffer: produce through the outbox, deliver through the workflows. Two rounds: memory that
  // stays flat grows no more in the second than in the first.
  const engine = await inProcessEngine(); // registers with lib's dispatch port: queued deliveries wake a run
  const rss = () => process.memoryUsage().rss;
  const rssBefore = rss();
  const round = async () => {
    const start = await received();
    let peak = rss();
    const sampler = setInterval(() => (peak = Math.max(peak, rss())), 50);
    const started = performance.now();
    for (let i = 0; i < events; i++) {
      const t = teams[i % endpoints]!;
      // What emit does once it has read an event's subject: the outbox rows, then a wake-up.
      await enqueue(t, "backup.succeeded", exampleData("backup.succeeded", `http://127.0.0.1/${t.slug}`), {});
      notificationsQueued();
    }
    const producedS = (performance.now() - started) / 1000;
    while ((await received()) - start < healthyEvents && performance.now() - started < 600_000)
      await new Promise((r) => setTimeout(r, 100));
    clearInterval(sampler);
    return { producedS, deliveredS: (performance.now() - started) / 1000, got: (await received()) - start, peak };
  };
  const rounds = [await round(), await round()];
  const views = (await Promise.all(teams.map((t) => listChannels(t)))).map((v) => v[0]!);
  const logged = views.slice(0, ports.length).reduce((n, v) => n + (v.last24h.succeeded ?? 0), 0);
  const deadView = views[endpoints - 1]!;

  console.log(`bench:webhooks — ${events} events to ${endpoints} endpoints (1 dead: accepts, never answers), twice`);
  console.log(
    `  embedded PGlite, in-process workflows; receivers in another process; ${IN_FLIGHT} requests in flight per endpoint`,
  );
  for (const [i, r] of rounds.entries())
    console.log(
      `  round ${i + 1}: produced in ${r.producedS.toFixed(1)} s (${Math.round(events / r.producedS)} events/s); ${r.got} of ${healthyEvents} delivered to the ${ports.length} healthy endpoints, signed, ${r.deliveredS.toFixed(1)} s after its first event (${Math.round(r.got / r.deliveredS)}/s) → ${(r.deliveredS / baselineS).toFixed(1)}× the baseline`,
    );
  console.log(
    `  baseline (the same bodies POSTed directly: no queue, signing or database): ${baselineS.toFixed(1)} s for ${healthyEvents}`,
  );
  console.log(`  logged as succeeded: ${logged} of ${2 * healthyEvents}`);
  console.log(
    `  dead endpoint: ${deadView.last24h.pending ?? 0} of its ${2 * (events - healthyEvents)} deliveries still waiting (each attempt waits out 10 s, ${IN_FLIGHT} at a time); it held up no other endpoint`,
  );
  console.log(
    `  RSS: ${mib(rssBefore)} before, peaks of ${mib(rounds[0]!.peak)} in round 1 and ${mib(rounds[1]!.peak)} in round 2 (${events} more events each)`,
  );
  engine.stop();
} catch (err) {
  console.error(err);
  process.exitCode = 1;
} finally {
  receivers.kill();
  // Attempts to the dead endpoint may still be waiting out their timeout: end here.
  rmSync(dataDir, { recursive: true, force: true });
  process.exit();
}
