import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

/**
 * Debian's GnuPG in a temporary home of its own (batch mode, keys without passphrases), as a
 * team would use it: keys made with --quick-gen-key, public parts exported, backups decrypted.
 */
export function gnupgHome() {
  const home = mkdtempSync(path.join(tmpdir(), "coffer-gnupg-"));
  const gpg = (args: string[], input?: Buffer | string) =>
    execFileSync(
      "gpg",
      ["--batch", "--quiet", "--no-tty", "--passphrase", "", "--pinentry-mode", "loopback", ...args],
      {
        env: { ...process.env, GNUPGHOME: home },
        input,
        stdio: ["pipe", "pipe", "pipe"],
        maxBuffer: 1024 * 1024 * 1024,
      },
    );
  const fingerprintOf = (uid: string) =>
    gpg(["--with-colons", "--list-keys", uid])
      .toString()
      .split("\n")
      .find((l) => l.startsWith("fpr:"))!
      .split(":")[9]!;
  return {
    home,
    /** `gpg --quick-gen-key <uid> <algo> <usage> <expire>`; returns the fingerprint. */
    genKey(uid: string, algo = "default", usage = "default", expire = "never", fakedTime?: string) {
      gpg([...(fakedTime ? ["--faked-system-time", fakedTime] : []), "--quick-gen-key", uid, algo, usage, expire]);
      return fingerprintOf(uid);
    },
    addKey(fingerprint: string, algo: string, usage: string) {
      gpg(["--quick-add-key", fingerprint, algo, usage, "never"]);
    },
    /** Imports the revocation certificate GnuPG made with the key: the key is then revoked. */
    revoke(fingerprint: string) {
      const cert = readFileSync(path.join(home, "openpgp-revocs.d", `${fingerprint}.rev`), "utf8");
      const file = path.join(home, "revoke.asc");
      writeFileSync(file, cert.replace(/^:-----BEGIN/m, "-----BEGIN"));
      gpg(["--import", file]);
    },
    exportPublic(fingerprint: string, armor = true): string {
      const out = gpg(["--export", ...(armor ? ["--armor"] : []), fingerprint]);
      return armor ? out.toString() : out.toString("base64");
    },
    exportSecret(fingerprint: string): string {
      return gpg(["--export-secret-keys", "--armor", fingerprint]).toString();
    },
    deleteSecret(fingerprint: string) {
      gpg(["--yes", "--delete-secret-keys", fingerprint]);
    },
    /** `gpg --decrypt <file>` (with a passphrase, for a symmetric-key packet): its exit code, standard output and error. */
    decrypt(file: string, passphrase = "") {
      const r = spawnSync(
        "gpg",
        ["--batch", "--no-tty", "--pinentry-mode", "loopback", "--passphrase", passphrase, "--decrypt", file],
        { env: { ...process.env, GNUPGHOME: home }, maxBuffer: 1024 * 1024 * 1024 },
      );
      return { status: r.status, stdout: r.stdout, stderr: r.stderr.toString() };
    },
    cleanup() {
      spawnSync("gpgconf", ["--kill", "all"], { env: { ...process.env, GNUPGHOME: home } });
      rmSync(home, { recursive: true, force: true });
    },
  };
}
export type GnupgHome = ReturnType<typeof gnupgHome>;
