import "server-only";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { env } from "../env";

export interface MasterKey {
  id: string;
  key: Buffer;
}

export interface Keyring {
  /** The newest key: everything new is sealed with it. */
  active: MasterKey;
  byId: ReadonlyMap<string, MasterKey>;
  /** Where the keys came from, for the start-up message. */
  source: "MASTER_KEYS" | "dev-file";
}

const keyIdPattern = /^[A-Za-z0-9_.-]{1,64}$/;

/** Parses `id:base64key,id:base64key` (newest first). Errors name the entry, never its key. */
export function parseMasterKeys(value: string): MasterKey[] {
  const entries = value
    .split(/[,\s]+/)
    .map((s) => s.trim())
    .filter(Boolean);
  if (entries.length === 0) throw new Error("MASTER_KEYS is empty: set it to `<key id>:<base64 of 32 random bytes>`.");
  const seen = new Set<string>();
  return entries.map((entry, i) => {
    const sep = entry.indexOf(":");
    const id = sep > 0 ? entry.slice(0, sep) : "";
    if (!keyIdPattern.test(id)) {
      throw new Error(
        `MASTER_KEYS entry ${i + 1} needs the form <key id>:<base64 key>, with a key id of letters, digits, '.', '_' or '-' (at most 64).`,
      );
    }
    if (seen.has(id)) throw new Error(`MASTER_KEYS names key id "${id}" twice.`);
    seen.add(id);
    const key = Buffer.from(entry.slice(sep + 1), "base64");
    if (key.length !== 32) {
      throw new Error(
        `MASTER_KEYS key "${id}" is not 32 bytes of base64 (generate one with: openssl rand -base64 32).`,
      );
    }
    return { id, key };
  });
}

function devKeyFile(): string {
  const file = path.resolve(env().DATA_DIR, "master-keys");
  if (!existsSync(file)) {
    mkdirSync(path.dirname(file), { recursive: true });
    const id = `dev-${new Date().toISOString().slice(0, 10).replaceAll("-", "")}`;
    // Written whole under another name, then linked into place: two processes starting on one
    // data folder keep the same key (the second link fails), and none reads a half-written file.
    const draft = `${file}.${process.pid}.${randomBytes(4).toString("hex")}`;
    writeFileSync(draft, `${id}:${randomBytes(32).toString("base64")}\n`, { mode: 0o600 });
    try {
      linkSync(draft, file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    } finally {
      unlinkSync(draft);
    }
  }
  chmodSync(file, 0o600);
  return readFileSync(file, "utf8");
}

let cached: Keyring | undefined;
let warned = false;

/**
 * The configured master keys. Production refuses to run without MASTER_KEYS; development
 * generates one into the data folder and says loudly that it is not for real data.
 */
export function keyring(): Keyring {
  if (cached) return cached;
  const e = env();
  let keys: MasterKey[];
  let source: Keyring["source"];
  if (e.MASTER_KEYS?.trim()) {
    keys = parseMasterKeys(e.MASTER_KEYS);
    source = "MASTER_KEYS";
  } else if (e.production) {
    throw new Error(
      "MASTER_KEYS is not set. Coffer refuses to start in production without a master key (generate one with: openssl rand -base64 32).",
    );
  } else {
    keys = parseMasterKeys(devKeyFile());
    source = "dev-file";
    if (!warned) {
      warned = true;
      console.warn(
        [
          "",
          "!!! WARNING: no MASTER_KEYS set — using a development master key generated in",
          `!!!   ${path.resolve(e.DATA_DIR, "master-keys")}`,
          "!!! Anyone with that file can decrypt every secret and backup. Set MASTER_KEYS for real data,",
          "!!! and keep a copy of it away from this machine, or backups cannot be decrypted after a loss.",
          "",
        ].join("\n"),
      );
    }
  }
  cached = { active: keys[0]!, byId: new Map(keys.map((k) => [k.id, k])), source };
  return cached;
}
