import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  DEFAULT_POLICY,
  describePolicy,
  keepsLess,
  periodKeys,
  selectRetention,
  type Candidate,
  type RetentionPolicy,
} from "./select";

const day = 86_400_000;
const policy = (p: Partial<RetentionPolicy>): RetentionPolicy => ({
  keepAll: false,
  last: 0,
  daily: 0,
  weekly: 0,
  monthly: 0,
  yearly: 0,
  ...p,
});
const ok = (id: string, at: string, extra: Partial<Candidate> = {}): Candidate => ({
  id,
  at: new Date(at),
  succeeded: true,
  ...extra,
});
const kept = (decisions: ReturnType<typeof selectRetention>) => decisions.filter((d) => d.keep).map((d) => d.id);

describe("selectRetention", () => {
  it("the runbook's 7 daily / 4 weekly / 6 monthly over 400 days of daily backups", () => {
    const last = Date.parse("2026-11-23T02:00:00Z"); // a Monday
    const history = Array.from({ length: 400 }, (_, i) =>
      ok(new Date(last - i * day).toISOString().slice(0, 10), new Date(last - i * day).toISOString()),
    );
    const decisions = selectRetention(history, DEFAULT_POLICY, "UTC");
    expect(kept(decisions).sort()).toEqual(
      [
        // 7 days
        "2026-11-23",
        "2026-11-22",
        "2026-11-21",
        "2026-11-20",
        "2026-11-19",
        "2026-11-18",
        "2026-11-17",
        // 4 ISO weeks (newest of each): W48 11-23 and W47 11-22 are kept already; W46, W45
        "2026-11-15",
        "2026-11-08",
        // 6 months (newest of each): November 11-23 already; October … June
        "2026-10-31",
        "2026-09-30",
        "2026-08-31",
        "2026-07-31",
        "2026-06-30",
      ].sort(),
    );
    const tier = (id: string) => decisions.find((d) => d.id === id)!.tier;
    // Colder as it ages: the shortest window keeping it.
    expect([
      tier("2026-11-23"),
      tier("2026-11-22"),
      tier("2026-11-20"),
      tier("2026-11-08"),
      tier("2026-10-31"),
      tier("2026-06-30"),
    ]).toEqual(["daily", "daily", "daily", "weekly", "monthly", "monthly"]);
    expect(decisions.find((d) => d.id === "2026-11-23")!.rules.sort()).toEqual([
      "daily",
      "latest",
      "monthly",
      "weekly",
    ]);
    expect(decisions.find((d) => d.id === "2026-05-31")).toMatchObject({ keep: false, rules: [], tier: null });
  });

  it("counts calendar periods in the policy's time zone, east and west of UTC, across DST", () => {
    // 22:30 and 23:30 UTC on 28 March 2026: one UTC day, but 23:30 and 00:30 (after the DST
    // change night begins) in Berlin, and 07:30 / 08:30 on the 29th in Tokyo.
    const a = ok("a", "2026-03-28T22:30:00Z");
    const b = ok("b", "2026-03-28T23:30:00Z");
    const daily2 = policy({ daily: 2 });
    expect(kept(selectRetention([a, b], daily2, "UTC")).sort()).toEqual(["b"]); // one day: its newest, plus "latest"
    expect(kept(selectRetention([a, b], daily2, "Europe/Berlin")).sort()).toEqual(["a", "b"]);
    expect(kept(selectRetention([a, b], daily2, "Asia/Tokyo")).sort()).toEqual(["b"]);
    // Los Angeles (UTC−7 in summer): 05:30 and 06:30 UTC on 8 Nov are the 7th at 22:30 / 23:30 (PDT→PST was on 1 Nov).
    const c = ok("c", "2026-11-08T05:30:00Z");
    const d = ok("d", "2026-11-08T08:30:00Z"); // 00:30 PST on the 8th
    expect(kept(selectRetention([c, d], daily2, "America/Los_Angeles")).sort()).toEqual(["c", "d"]);
    expect(kept(selectRetention([c, d], daily2, "UTC")).sort()).toEqual(["d"]);
    // The night clocks go back (25 October 2026, Berlin): 00:30 and the second 02:30 are one day.
    expect(periodKeys(new Date("2026-10-24T22:30:00Z"), "Europe/Berlin").daily).toBe("2026-10-25");
    expect(periodKeys(new Date("2026-10-25T01:30:00Z"), "Europe/Berlin").daily).toBe("2026-10-25");
  });

  it("uses ISO weeks and knows leap days", () => {
    expect(periodKeys(new Date("2027-01-01T12:00:00Z"), "UTC").weekly).toBe("2026-W53"); // a Friday in 2026's last ISO week
    expect(periodKeys(new Date("2026-12-28T12:00:00Z"), "UTC").weekly).toBe("2026-W53");
    expect(periodKeys(new Date("2029-12-31T12:00:00Z"), "UTC").weekly).toBe("2030-W01");
    expect(periodKeys(new Date("2028-02-29T12:00:00Z"), "UTC")).toEqual({
      daily: "2028-02-29",
      weekly: "2028-W09",
      monthly: "2028-02",
      yearly: "2028",
    });
    const feb = [ok("28", "2028-02-28T02:00:00Z"), ok("29", "2028-02-29T02:00:00Z"), ok("01", "2028-03-01T02:00:00Z")];
    expect(kept(selectRetention(feb, policy({ daily: 3 }), "UTC")).sort()).toEqual(["01", "28", "29"]);
    expect(kept(selectRetention(feb, policy({ monthly: 2 }), "UTC")).sort()).toEqual(["01", "29"]);
  });

  it("keeps the newest of several backups in one day; keep-last counts backups", () => {
    const runs = [
      ok("morning", "2026-06-01T06:00:00Z"),
      ok("noon", "2026-06-01T12:00:00Z"),
      ok("evening", "2026-06-01T18:00:00Z"),
      ok("yesterday", "2026-05-31T18:00:00Z"),
    ];
    expect(kept(selectRetention(runs, policy({ daily: 2 }), "UTC")).sort()).toEqual(["evening", "yesterday"]);
    expect(kept(selectRetention(runs, policy({ last: 3 }), "UTC")).sort()).toEqual(["evening", "morning", "noon"]);
  });

  it("ignores failed runs: they neither count for a period nor push a good backup out", () => {
    const good = [ok("mon", "2026-06-01T02:00:00Z"), ok("tue", "2026-06-02T02:00:00Z")];
    const failed = [
      { id: "wed-failed", at: new Date("2026-06-03T02:00:00Z"), succeeded: false },
      { id: "thu-failed", at: new Date("2026-06-04T02:00:00Z"), succeeded: false },
    ];
    const decisions = selectRetention([...good, ...failed], policy({ daily: 2 }), "UTC");
    expect(kept(decisions).sort()).toEqual(["mon", "tue"]);
    expect(decisions.map((d) => d.id)).not.toContain("wed-failed");
  });

  it("keeps the latest verified backup and anything being read", () => {
    const runs = [
      ok("old-verified", "2026-01-01T02:00:00Z", { verified: true }),
      ok("reading", "2026-02-01T02:00:00Z", { inUse: true }),
      ok("new", "2026-03-01T02:00:00Z"),
    ];
    const decisions = selectRetention(runs, policy({ daily: 1 }), "UTC");
    expect(Object.fromEntries(decisions.map((d) => [d.id, d.rules.sort()]))).toEqual({
      new: ["daily", "latest"],
      reading: ["in-use"],
      "old-verified": ["latest-verified"],
    });
    expect(decisions.find((d) => d.id === "reading")!.tier).toBeNull(); // its copies stay where they are
    expect(decisions.find((d) => d.id === "new")!.tier).toBe("daily");
  });

  it("keep until deleted keeps everything", () => {
    const runs = Array.from({ length: 50 }, (_, i) =>
      ok(`b${i}`, new Date(Date.UTC(2026, 0, 1) + i * day).toISOString()),
    );
    const all = selectRetention(runs, { ...DEFAULT_POLICY, keepAll: true }, "UTC");
    expect(all.every((d) => d.keep && d.rules.includes("keep-all"))).toBe(true);
    // Tiers still follow age: the newest in the daily class, the oldest beyond every window in the coldest.
    expect([all[0]!.tier, all.at(-1)!.tier]).toEqual(["daily", "yearly"]);
  });

  const zones = [
    "UTC",
    "Europe/Berlin",
    "America/Los_Angeles",
    "Asia/Kolkata",
    "Pacific/Auckland",
    "Pacific/Kiritimati",
  ];
  const candidate = fc.record({
    id: fc.uuid(),
    at: fc.date({ min: new Date("2024-01-01T00:00:00Z"), max: new Date("2027-12-31T00:00:00Z"), noInvalidDate: true }),
    succeeded: fc.boolean(),
    verified: fc.boolean(),
    inUse: fc.boolean(),
  });
  const policies = fc.record({
    keepAll: fc.constant(false),
    last: fc.nat(5),
    daily: fc.nat(10),
    weekly: fc.nat(6),
    monthly: fc.nat(8),
    yearly: fc.nat(3),
  });

  it("invariants hold for thousands of random histories", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(candidate, { selector: (c) => c.id, maxLength: 60 }),
        policies,
        fc.constantFrom(...zones),
        (history, p, zone) => {
          const decisions = selectRetention(history, p, zone);
          const byId = new Map(decisions.map((d) => [d.id, d]));
          const good = history
            .filter((h) => h.succeeded)
            .sort((a, b) => b.at.getTime() - a.at.getTime() || (a.id < b.id ? 1 : -1)); // ties as select.ts breaks them
          // Only successful backups are decided on.
          expect(decisions.length).toBe(good.length);
          if (good.length) expect(byId.get(good[0]!.id)!.keep).toBe(true); // the latest success
          const verified = good.find((g) => g.verified);
          if (verified) expect(byId.get(verified.id)!.keep).toBe(true);
          for (const g of good) if (g.inUse) expect(byId.get(g.id)!.keep).toBe(true);
          for (const d of decisions) {
            expect(d.keep).toBe(d.rules.length > 0);
            if (!d.keep) expect(d.tier).toBeNull();
            // The newest stay in the daily tier; otherwise the tier is the shortest period rule keeping it.
            const periods = (["daily", "weekly", "monthly", "yearly"] as const).filter((t) => d.rules.includes(t));
            if (d.rules.includes("latest") || d.rules.includes("last")) expect(d.tier).toBe("daily");
            else if (periods.length) expect(d.tier).toBe(periods[0]);
          }
          // Each period rule keeps at most one backup per period, and at most N of them.
          for (const tier of ["daily", "weekly", "monthly", "yearly"] as const) {
            const keptBy = decisions
              .filter((d) => d.rules.includes(tier))
              .map((d) => periodKeys(history.find((h) => h.id === d.id)!.at, zone)[tier]);
            expect(new Set(keptBy).size).toBe(keptBy.length);
            expect(keptBy.length).toBeLessThanOrEqual(p[tier]);
          }
          // Failed runs change nothing about the good ones.
          const withoutFailed = selectRetention(good, p, zone);
          expect(withoutFailed).toEqual(decisions);
        },
      ),
      { numRuns: 3000 },
    );
  }, 120_000);
});

describe("describePolicy", () => {
  it("says a policy in words", () => {
    expect(describePolicy(DEFAULT_POLICY)).toBe("keeps the last 7 days, 4 weeks, 6 months — about 17 backups");
    expect(describePolicy({ ...DEFAULT_POLICY, last: 3, yearly: 1 })).toBe(
      "keeps the last 3 backups, 7 days, 4 weeks, 6 months, 1 year — about 21 backups",
    );
    expect(describePolicy({ ...DEFAULT_POLICY, keepAll: true })).toBe("keeps every backup until it is deleted");
    expect(describePolicy(policy({}))).toBe("keeps only the latest backup");
  });
});

describe("keepsLess", () => {
  it("is true for a shorter rule or leaving keep-everything, false for longer ones and tier-only changes", () => {
    const keepAll = { ...DEFAULT_POLICY, keepAll: true };
    expect(keepsLess(DEFAULT_POLICY, { ...DEFAULT_POLICY, daily: 6 })).toBe(true);
    expect(keepsLess(DEFAULT_POLICY, { ...DEFAULT_POLICY, last: 0, daily: 0, weekly: 0, monthly: 0 })).toBe(true);
    expect(keepsLess(keepAll, DEFAULT_POLICY)).toBe(true);
    expect(keepsLess(DEFAULT_POLICY, { ...DEFAULT_POLICY, daily: 8, yearly: 1 })).toBe(false);
    expect(keepsLess(DEFAULT_POLICY, keepAll)).toBe(false);
    expect(keepsLess(keepAll, { ...keepAll, daily: 1 })).toBe(false); // counts under keep-all only choose tiers
    expect(keepsLess(DEFAULT_POLICY, DEFAULT_POLICY)).toBe(false);
  });
});
