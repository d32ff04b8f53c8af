import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { mayInvite, permissions, roleAtLeast, roles } from "./roles";

describe("roles", () => {
  it("orders viewer < member < admin < owner", () => {
    expect(roleAtLeast("owner", "admin")).toBe(true);
    expect(roleAtLeast("admin", "admin")).toBe(true);
    expect(roleAtLeast("member", "admin")).toBe(false);
    expect(roleAtLeast("viewer", "member")).toBe(false);
  });

  it("admins and owners invite, never above their own role", () => {
    expect(roles.filter((r) => mayInvite("owner", r))).toEqual(["viewer", "member", "admin", "owner"]);
    expect(roles.filter((r) => mayInvite("admin", r))).toEqual(["viewer", "member", "admin"]);
    expect(roles.filter((r) => mayInvite("member", r))).toEqual([]);
    expect(roles.filter((r) => mayInvite("viewer", r))).toEqual([]);
  });

  it("the README's permission table says what the code enforces", () => {
    const readme = readFileSync("README.md", "utf8");
    for (const p of permissions) {
      const row = readme.split("\n").find((line) => line.startsWith(`| ${p.action} |`));
      expect(row, p.action).toBeDefined();
      const cells = row!
        .split("|")
        .slice(2, 6)
        .map((c) => c.trim());
      expect(cells, p.action).toEqual(roles.map((r) => (roleAtLeast(r, p.min) ? "✓" : "")));
    }
  });
});
