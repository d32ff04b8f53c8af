import { afterAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import { newDataKey, wrapDek } from "@/lib/crypto/data-key";
import { createEncryptStream } from "@/lib/crypto/envelope";
import { parseMasterKeys, type Keyring } from "@/lib/crypto/master-keys";
import vectors from "@/lib/crypto/envelope-vectors.json";

// docs/FORMAT.md is what people recovering a backup rely on: its worked example must be the
// known-answer vector, and its decryptor (plain Node, no Coffer code) must open what
// lib/crypto/envelope/ writes and refuse what was changed.

const doc = readFileSync(path.resolve(import.meta.dirname, "../docs/FORMAT.md"), "utf8");
/** The fenced block after `<!-- format:<name> -->`. */
const block = (name: string) => {
  const m = new RegExp(`<!-- format:${name} -->\\s*\`\`\`[a-z]*\\n([\\s\\S]*?)\\n\`\`\``).exec(doc);
  if (!m) throw new Error(`docs/FORMAT.md has no format:${name} block`);
  return m[1]!;
};

const work = mkdtempSync(path.join(tmpdir(), "coffer-format-doc-"));
const script = path.join(work, "decrypt-coffer.mjs");
writeFileSync(script, block("decryptor"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const masterKeys = `doc-1:${randomBytes(32).toString("base64")}`;
const keys: Keyring = (() => {
  const [k] = parseMasterKeys(masterKeys);
  return { active: k!, byId: new Map([[k!.id, k!]]), source: "MASTER_KEYS" };
})();
const S = 4096;

async function encrypt(plain: Buffer): Promise<Buffer> {
  const dek = newDataKey();
  const wrapped = wrapDek(dek, keys, "team_doc", "bkp_doc");
  return buffer(
    Readable.from([plain]).pipe(
      createEncryptStream({ dek, wrapped, teamId: "team_doc", backupId: "bkp_doc", segmentSize: S }),
    ),
  );
}

function decrypt(object: Buffer, keysEnv = masterKeys) {
  const input = path.join(work, `in-${randomBytes(4).toString("hex")}`);
  const output = `${input}.out`;
  writeFileSync(input, object);
  const run = spawnSync(process.execPath, [script, input, output], {
    env: { PATH: process.env.PATH, NODE_ENV: "production", MASTER_KEYS: keysEnv },
    encoding: "utf8",
  });
  return {
    status: run.status,
    stderr: run.stderr,
    output: existsSync(output) ? readFileSync(output) : undefined,
    leftovers: existsSync(`${output}.partial`),
  };
}

describe("docs/FORMAT.md", () => {
  it("shows the known-answer vector byte for byte in its worked example", () => {
    const hex = block("example")
      .split("\n")
      .map((line) => line.split(/ {2,}/)[0]!.replaceAll(" ", ""))
      .join("");
    expect(hex).toBe(vectors.vectors.find((v) => v.plaintextLength === 5)!.objectHex);
  });

  it("has a decryptor that opens objects the envelope wrote, at every size boundary", async () => {
    for (const size of [0, 1, S - 1, S, S + 1, 3 * S, 3 * S + 1]) {
      const plain = randomBytes(size);
      const r = decrypt(await encrypt(plain));
      expect({ size, status: r.status, stderr: r.stderr }).toEqual({ size, status: 0, stderr: "" });
      expect(r.output!.equals(plain), `size ${size}`).toBe(true);
    }
  });

  it("has a decryptor that refuses a changed, cut or extended object and leaves nothing behind", async () => {
    const object = await encrypt(randomBytes(3 * S + 100));
    const headerLength = 12 + object.readUInt32BE(8);
    const flipped = Buffer.from(object);
    flipped[headerLength + S + 16 + 5]! ^= 1;
    const headerChanged = Buffer.from(object);
    headerChanged[20]! ^= 1; // in the nonce prefix: every segment's associated data changes
    const cases: [string, Buffer, RegExp][] = [
      ["a flipped ciphertext bit", flipped, /segment 1 failed authentication/],
      ["a changed header byte", headerChanged, /segment 0 failed authentication/],
      ["the final segment dropped", object.subarray(0, headerLength + 3 * (S + 16)), /segment 2 failed/],
      ["cut inside a segment", object.subarray(0, object.length - 50), /segment 3 failed/],
      ["bytes appended", Buffer.concat([object, Buffer.alloc(1)]), /segment 3 failed/],
    ];
    for (const [what, bytes, message] of cases) {
      const r = decrypt(bytes);
      expect(r.status, what).toBe(1);
      expect(r.stderr, what).toMatch(message);
      expect({ what, output: r.output, leftovers: r.leftovers }).toEqual({ what, output: undefined, leftovers: false });
    }
  });

  it("has a decryptor that tells a wrong key or a damaged header from a damaged segment, without a stack trace", async () => {
    const object = await encrypt(randomBytes(S + 100));
    const backupIdChanged = Buffer.from(object);
    backupIdChanged[object.indexOf("bkp_doc") + 4]! ^= 1; // the data key is bound to the backup id
    const lengthChanged = Buffer.from(object);
    lengthChanged.writeUInt32BE(0xffffffff, 8);
    const idLengthChanged = Buffer.from(object);
    idLengthChanged[23] = 200; // the key id's length byte: the fields run past the header
    const unwrapFailed = /^the data key did not unwrap with master key "doc-1": wrong master key or damaged header$/;
    const cases: [string, Buffer, string, RegExp][] = [
      ["another master key", object, `doc-1:${randomBytes(32).toString("base64")}`, unwrapFailed],
      ["a changed backup id", backupIdChanged, masterKeys, unwrapFailed],
      ["an impossible header length", lengthChanged, masterKeys, /^the header is damaged: its length is impossible$/],
      ["a field running past the header", idLengthChanged, masterKeys, /^the header is damaged$/],
      ["a key not given", object, `doc-2:${randomBytes(32).toString("base64")}`, /^MASTER_KEYS has no key "doc-1"/],
    ];
    for (const [what, bytes, keysEnv, message] of cases) {
      const r = decrypt(bytes, keysEnv);
      expect({ what, status: r.status, output: r.output, leftovers: r.leftovers }).toEqual({
        what,
        status: 1,
        output: undefined,
        leftovers: false,
      });
      expect(r.stderr.trim(), what).toMatch(message);
    }
  });

  it("has a decryptor that reports a failed write as such, not as a damaged object", async () => {
    const input = path.join(work, "full-disk.enc");
    const output = path.join(work, "full-disk.tar.gz");
    writeFileSync(input, await encrypt(randomBytes(100)));
    symlinkSync("/dev/full", `${output}.partial`); // every write fails with ENOSPC
    const run = spawnSync(process.execPath, [script, input, output], {
      env: { PATH: process.env.PATH, NODE_ENV: "production", MASTER_KEYS: masterKeys },
      encoding: "utf8",
    });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/ENOSPC/);
    expect(run.stderr).not.toMatch(/authentication|altered|damaged/);
    expect(existsSync(output)).toBe(false);
  });
});
