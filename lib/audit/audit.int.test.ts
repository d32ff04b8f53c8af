import { describe, expect, it } from "vitest";
import { signedUpUser } from "@/test/factories";
import { db } from "../db";
import { recordAudit, recordAuditOnce } from "./record";
import { auditEventsCsv, listAuditEvents } from "./queries";

describe("audit log", () => {
  it("pages newest first without gaps or repeats, filters, and stays inside the team", async () => {
    const a = await signedUpUser("Alice");
    const b = await signedUpUser("Bob");
    const ta = await a.team("admin");
    const d = await db();
    for (let i = 0; i < 120; i++) {
      await recordAudit(d, ta, {
        action: i % 2 ? "member.role_changed" : "invitation.created",
        target: { type: "member", id: `mem_${i}`, label: `person-${i}@example.test` },
      });
      await new Promise((r) => setTimeout(r, 2)); // one per millisecond at least: same-instant rows have no order
    }
    await recordAudit(d, await b.team("admin"), {
      action: "invitation.created",
      target: { type: "member", id: "mem_b", label: "not-yours@example.test" },
    });

    const seen: string[] = [];
    let before: string | undefined;
    let pages = 0;
    do {
      const page = await listAuditEvents(ta, { before });
      seen.push(...page.events.map((e) => e.targetLabel ?? e.action));
      before = page.nextCursor ?? undefined;
      pages++;
    } while (before);
    expect(pages).toBe(3);
    expect(seen).toHaveLength(121); // 120 + team.created
    expect(new Set(seen).size).toBe(121);
    expect(seen.slice(0, 3)).toEqual(["person-119@example.test", "person-118@example.test", "person-117@example.test"]);
    expect(seen).not.toContain("not-yours@example.test");

    const filtered = await listAuditEvents(ta, { action: "member." });
    expect(filtered.events).toHaveLength(50);
    expect(filtered.events.every((e) => e.action === "member.role_changed")).toBe(true);
    expect((await listAuditEvents(ta, { actor: "nobody" })).events).toEqual([]);

    const csv = await new Response(auditEventsCsv(ta, { action: "invitation." })).text();
    const lines = csv.trim().split("\r\n");
    expect(lines[0]).toBe("time,actor,action,target_type,target,ip,details");
    expect(lines).toHaveLength(61);
    expect(lines[1]).toContain(`"${a.email}","invitation.created","member","person-118@example.test","203.0.113.7"`);
  });

  it("records a repeated read once, also when the first call's row is not committed yet", async () => {
    const a = await signedUpUser("Reader");
    const t = await a.team("member");
    const d = await db();
    const entry = { action: "backup.downloaded", target: { type: "backup", id: "bkp_x" } };
    let second: Promise<void> | undefined;
    await d.transaction(async (tx) => {
      await recordAuditOnce(tx, t, entry, 60_000);
      second = recordAuditOnce(d, t, entry, 60_000); // another connection, while the first row is uncommitted
      await new Promise((r) => setTimeout(r, 200));
    });
    await second;
    await recordAuditOnce(d, t, entry, 60_000);
    expect((await listAuditEvents(t, { action: "backup.downloaded" })).events).toHaveLength(1);
  });

  it("exports cells a spreadsheet would run as formulas as text, tab and carriage return included", async () => {
    const a = await signedUpUser("Alice");
    const t = await a.team("admin");
    const labels = ["=1+1", "+1", "-1", "@SUM(A1)", "\t=cmd()", "\r=cmd()", "plain"];
    for (const label of labels)
      await recordAudit(await db(), t, { action: "server.created", target: { type: "server", id: "srv_x", label } });
    const csv = await new Response(auditEventsCsv(t, { action: "server." })).text();
    const targets = csv
      .split(`"server.created","server",`)
      .slice(1)
      .map((rest) => rest.slice(0, rest.indexOf('",') + 1));
    // Rows written in the same millisecond have no defined order, so compare the cells as a set.
    expect(targets.sort()).toEqual(labels.map((l) => `"${l === "plain" ? l : `'${l}`}"`).sort());
  });
});
