import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { AppError } from "../errors";
import { parseMasterKeys, type Keyring } from "./master-keys";
import { openSecret, sealSecret } from "./secret-box";

const ring = (spec: string): Keyring => {
  const keys = parseMasterKeys(spec);
  return { active: keys[0]!, byId: new Map(keys.map((k) => [k.id, k])), source: "MASTER_KEYS" };
};
const k1 = `k1:${randomBytes(32).toString("base64")}`;
const k2 = `k2:${randomBytes(32).toString("base64")}`;
const ctx = { teamId: "team_a", table: "servers", column: "password_enc", rowId: "srv_1" };

describe("secret box", () => {
  it("round-trips and names the key it used, never the plaintext", () => {
    const sealed = sealSecret("hunter2 — ünïcode", ctx, ring(k1));
    expect(sealed).toMatch(/^v1:k1:[A-Za-z0-9_-]+$/);
    expect(sealed).not.toContain("hunter2");
    expect(openSecret(sealed, ctx, ring(k1))).toBe("hunter2 — ünïcode");
    expect(sealSecret("x", ctx, ring(k1))).not.toBe(sealSecret("x", ctx, ring(k1))); // fresh IV each time
  });

  it.each([
    ["row", { ...ctx, rowId: "srv_2" }],
    ["column", { ...ctx, column: "private_key_enc" }],
    ["table", { ...ctx, table: "sources" }],
    ["team", { ...ctx, teamId: "team_b" }],
  ])("refuses a value moved to another %s", (_what, moved) => {
    const sealed = sealSecret("s3cret", ctx, ring(k1));
    expect(() => openSecret(sealed, moved, ring(k1))).toThrow(
      /did not decrypt with master key "k1".*copied from another record/,
    );
  });

  it("refuses a wrong key, an unknown key id and a tampered value, without leaking material", () => {
    const sealed = sealSecret("s3cret", ctx, ring(k1));
    const wrongKey = ring(`k1:${randomBytes(32).toString("base64")}`);
    expect(() => openSecret(sealed, ctx, wrongKey)).toThrow(/did not decrypt/);
    expect(() => openSecret(sealed, ctx, ring(k2))).toThrow(
      'sealed with master key "k1", which is not configured. Add that key to MASTER_KEYS',
    );
    const body = Buffer.from(sealed.split(":")[2]!, "base64url");
    body[20]! ^= 1;
    expect(() => openSecret(`v1:k1:${body.toString("base64url")}`, ctx, ring(k1))).toThrow(AppError);
    try {
      openSecret(sealed, ctx, wrongKey);
    } catch (err) {
      expect(String((err as Error).message)).not.toContain(k1.split(":")[1]!);
    }
  });

  it("opens values sealed under an older key that is still configured", () => {
    const old = sealSecret("s3cret", ctx, ring(k1));
    expect(openSecret(old, ctx, ring(`${k2},${k1}`))).toBe("s3cret");
  });

  it("explains bad MASTER_KEYS without echoing the key", () => {
    expect(() => parseMasterKeys("nocolon")).toThrow(/entry 1 needs the form <key id>:<base64 key>/);
    expect(() => parseMasterKeys("k1:c2hvcnQ=")).toThrow('MASTER_KEYS key "k1" is not 32 bytes');
    expect(() => parseMasterKeys(`${k1},${k1}`)).toThrow('names key id "k1" twice');
    try {
      parseMasterKeys("k1:c2hvcnQ=");
    } catch (err) {
      expect((err as Error).message).not.toContain("c2hvcnQ");
    }
  });
});
