import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listAuditEvents } from "@/lib/audit/queries";
import { asAppError } from "@/lib/errors";
import { signedUpUser } from "@/test/factories";
import { gnupgHome, type GnupgHome } from "@/test/gnupg";
import { addTeamKey, listTeamKeys, removeTeamKey, teamRecipientKeys } from "./team-keys";

let gpg: GnupgHome;
beforeAll(() => {
  gpg = gnupgHome();
});
afterAll(() => gpg?.cleanup());

async function refusal(p: Promise<unknown>) {
  const err = asAppError(
    await p.then(
      () => undefined,
      (e: unknown) => e,
    ),
  );
  expect(err?.code).toBe("VALIDATION");
  return err!.message;
}

describe("team OpenPGP keys", () => {
  it("adds a key made with gpg --quick-gen-key (armored or binary) and shows what it is", async () => {
    const user = await signedUpUser("Keys");
    const t = await user.team("admin");
    const fpr = gpg.genKey("Ops Team <ops@example.test>", "future-default");
    const added = await addTeamKey(t, { key: gpg.exportPublic(fpr) });
    expect(added).toMatchObject({
      fingerprint: fpr,
      userIds: ["Ops Team <ops@example.test>"],
      algorithm: "EdDSA (ed25519), encrypts with ECDH (curve25519)",
      expiresAt: null,
    });
    const second = gpg.genKey("Escrow <escrow@example.test>", "rsa2048", "sign", "2y");
    gpg.addKey(second, "rsa2048", "encr");
    const bin = await addTeamKey(t, { key: gpg.exportPublic(second, false) });
    expect(bin.algorithm).toBe("RSA 2048");
    const rsa = await addTeamKey(t, { key: gpg.exportPublic(gpg.genKey("Rsa <rsa@example.test>")) });
    expect(rsa.algorithm).toBe("RSA 3072"); // GnuPG 2.2's default
    await removeTeamKey(t, rsa.id);
    expect(bin.expiresAt!.getTime()).toBeGreaterThan(Date.now() + 700 * 86_400_000);
    expect((await listTeamKeys(t)).map((k) => k.fingerprint)).toEqual([fpr, second]);
    expect((await teamRecipientKeys(t)).map((k) => k.fingerprint).sort()).toEqual([fpr, second].sort());

    const again = asAppError(await addTeamKey(t, { key: gpg.exportPublic(fpr) }).catch((e: unknown) => e));
    expect(again?.code).toBe("CONFLICT");
    expect(again?.message).toContain("already one of the team's keys");

    await removeTeamKey(t, bin.id);
    expect((await listTeamKeys(t)).map((k) => k.fingerprint)).toEqual([fpr]);
    const actions = (await listAuditEvents(t, {})).events.map((e) => e.action);
    expect(actions.filter((a) => a.startsWith("openpgp_key."))).toHaveLength(5);
  });

  it("refuses expired, revoked, sign-only and RSA 1024 keys, private keys and non-keys, saying why", async () => {
    const t = await (await signedUpUser("Refuse")).team("admin");
    const expired = gpg.genKey("Old <old@example.test>", "default", "default", "1d", "20200101T000000");
    expect(await refusal(addTeamKey(t, { key: gpg.exportPublic(expired) }))).toMatch(/expired on 2020-01-02/);

    const revoked = gpg.genKey("Gone <gone@example.test>");
    gpg.revoke(revoked);
    expect(await refusal(addTeamKey(t, { key: gpg.exportPublic(revoked) }))).toMatch(/has been revoked/);

    const signOnly = gpg.genKey("Signer <sign@example.test>", "ed25519", "sign");
    expect(await refusal(addTeamKey(t, { key: gpg.exportPublic(signOnly) }))).toMatch(
      /cannot encrypt .*gpg --quick-add-key/,
    );

    const weak = gpg.genKey("Weak <weak@example.test>", "rsa1024", "sign");
    gpg.addKey(weak, "rsa1024", "encr");
    expect(await refusal(addTeamKey(t, { key: gpg.exportPublic(weak) }))).toMatch(/RSA 1024: too weak/);

    const weakSub = gpg.genKey("Weak sub <weaksub@example.test>", "ed25519", "sign");
    gpg.addKey(weakSub, "rsa1024", "encr");
    expect(await refusal(addTeamKey(t, { key: gpg.exportPublic(weakSub) }))).toMatch(/RSA 1024 subkey: too weak/);

    const fine = gpg.genKey("Fine <fine@example.test>");
    expect(await refusal(addTeamKey(t, { key: gpg.exportSecret(fine) }))).toMatch(/private key/);
    expect(await refusal(addTeamKey(t, { key: "hello" }))).toMatch(/not an OpenPGP public key/);
    expect(await listTeamKeys(t)).toEqual([]);
    expect(await refusal(teamRecipientKeys(t))).toMatch(/at least one team key/);
  });

  it("only admins add or remove keys; another team's key is not found", async () => {
    const owner = await signedUpUser("Own");
    const admin = await owner.team("admin");
    const k = await addTeamKey(admin, { key: gpg.exportPublic(gpg.genKey("A <a@example.test>")) });
    const member = { ...admin, role: "member" as const };
    expect(asAppError(await addTeamKey(member, { key: "x" }).catch((e: unknown) => e))?.code).toBe("FORBIDDEN");
    expect(asAppError(await removeTeamKey(member, k.id).catch((e: unknown) => e))?.code).toBe("FORBIDDEN");
    const other = await (await signedUpUser("Other")).team("admin");
    expect(asAppError(await removeTeamKey(other, k.id).catch((e: unknown) => e))?.code).toBe("NOT_FOUND");
    expect(await listTeamKeys(admin)).toHaveLength(1);
  });
});
