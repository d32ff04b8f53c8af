import "server-only";
import { posix } from "node:path";
import type { Readable } from "node:stream";
import type { SFTPWrapper } from "ssh2";
import { AppError } from "@/lib/errors";
import { ReachError } from "../errors";
import { checkPath, temporarySibling } from "../paths";
import type { SshLink } from "./link";

type Sftp = SFTPWrapper;

const SFTP_CHUNK = 64 * 1024;
const SFTP_INFLIGHT = 8;

/** Reach's writeFile over one SFTP session per connection, opened when first needed. */
export class SftpFiles {
  private session?: Promise<Sftp>;

  constructor(private readonly link: SshLink) {}

  private sftp(): Promise<Sftp> {
    this.link.assertOpen();
    if (!this.session) {
      const session = new Promise<Sftp>((resolve, reject) => {
        this.link.client.sftp((err, sftp) => {
          if (err) {
            if (this.session === session) this.session = undefined;
            reject(
              this.link.isClosed
                ? this.link.lostError()
                : new ReachError(
                    "UPSTREAM",
                    "session",
                    `${this.link.label} does not offer SFTP (${err.message}). Enable the sftp subsystem in sshd_config.`,
                  ),
            );
            return;
          }
          sftp.on("error", () => {});
          sftp.on("close", () => {
            if (this.session === session) this.session = undefined;
          });
          resolve(sftp);
        });
      });
      session.catch(() => {});
      this.session = session;
    }
    return this.session;
  }

  private fileError(error: unknown, path: string): unknown {
    if (error instanceof AppError) return error;
    const e = error as { code?: number | string; message?: string };
    if (this.link.isClosed) return this.link.lostError(`write ${path}`);
    if (e.code === 2)
      return new ReachError(
        "UPSTREAM",
        "not-found",
        `The folder ${posix.dirname(path)} does not exist on ${this.link.label}.`,
      );
    if (e.code === 3)
      return new ReachError(
        "UPSTREAM",
        "permission-denied",
        `Permission denied: the SSH user cannot write ${path} on ${this.link.label}.`,
      );
    return new ReachError(
      "UPSTREAM",
      "file",
      `Could not write ${path} on ${this.link.label}: ${e.message ?? String(error)}.`,
    );
  }

  async writeFile(
    path: string,
    body: Readable,
    opts?: { signal?: AbortSignal; mode?: number; tag?: string },
  ): Promise<void> {
    checkPath(path);
    const signal = opts?.signal;
    const mode = opts?.mode ?? 0o600;
    signal?.throwIfAborted();
    const sftp = await this.sftp();
    const tmp = temporarySibling(path, opts?.tag);
    const onAbort = () =>
      body.destroy(signal!.reason instanceof Error ? signal!.reason : new Error(String(signal!.reason)));
    signal?.addEventListener("abort", onAbort, { once: true });
    let handle: Buffer | undefined;
    let created = false;
    try {
      handle = await call<Buffer>((cb) => sftp.open(tmp, "wx", mode, cb)).catch((e) => {
        throw this.fileError(e, path);
      });
      created = true;
      const h = handle;
      await call((cb) => sftp.fchmod(h, mode, cb)).catch((e) => {
        throw this.fileError(e, path);
      });

      // Several writes in flight (positions are explicit), so throughput is not one round trip per chunk.
      let position = 0;
      const inflight = new Set<Promise<void>>();
      let writeError: unknown;
      for await (const data of body) {
        const chunk: Buffer = Buffer.isBuffer(data) ? data : Buffer.from(data as string);
        for (let off = 0; off < chunk.length; off += SFTP_CHUNK) {
          const piece = chunk.subarray(off, off + SFTP_CHUNK);
          const at = position;
          position += piece.length;
          const p: Promise<void> = call((cb) => sftp.write(h, piece, 0, piece.length, at, cb)).then(
            () => void inflight.delete(p),
            (e) => {
              inflight.delete(p);
              writeError ??= this.fileError(e, path);
            },
          );
          inflight.add(p);
          if (inflight.size >= SFTP_INFLIGHT) await Promise.race(inflight);
          if (writeError) throw writeError;
        }
      }
      await Promise.all(inflight);
      if (writeError) throw writeError;
      signal?.throwIfAborted();
      await call((cb) => sftp.ext_openssh_fsync(h, cb)).catch(() => {}); // best effort: not every server has fsync@openssh.com
      handle = undefined;
      await call((cb) => sftp.close(h, cb)).catch((e) => {
        throw this.fileError(e, path);
      });
      await this.renameOver(sftp, tmp, path);
      created = false;
    } catch (error) {
      if (handle) {
        const h = handle;
        await call((cb) => sftp.close(h, cb)).catch(() => {});
      }
      if (created) await call((cb) => sftp.unlink(tmp, cb)).catch(() => {});
      if (signal?.aborted) throw signal.reason;
      throw error;
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
  }

  private async renameOver(sftp: Sftp, from: string, to: string): Promise<void> {
    try {
      // posix-rename@openssh.com replaces the target atomically; plain SFTP rename refuses to.
      await call((cb) => sftp.ext_openssh_rename(from, to, cb));
      return;
    } catch (error) {
      if (!/not support/i.test((error as Error).message ?? "")) throw this.fileError(error, to);
    }
    try {
      await call((cb) => sftp.rename(from, to, cb));
    } catch {
      // Not atomic, for servers without the extension: remove the old file, then rename.
      await call((cb) => sftp.unlink(to, cb)).catch(() => {});
      await call((cb) => sftp.rename(from, to, cb)).catch((e) => {
        throw this.fileError(e, to);
      });
    }
  }
}

function call<T = void>(fn: (cb: (err: Error | null | undefined, value?: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    try {
      fn((err, value) => (err ? reject(err) : resolve(value as T)));
    } catch (error) {
      reject(error); // ssh2 throws synchronously, e.g. for unsupported extensions
    }
  });
}
