import "server-only";
import { posix } from "node:path";
import { Readable } from "node:stream";
import type { SFTPWrapper } from "ssh2";
import { AppError } from "@/lib/errors";
import { destroyOnAbort } from "../command";
import { ReachError } from "../errors";
import { checkPath, temporarySibling } from "../paths";
import type { SshLink } from "./link";

type Sftp = SFTPWrapper;

const SFTP_CHUNK = 64 * 1024;
const SFTP_INFLIGHT = 8;

/** Reach's readFile and writeFile over one SFTP session per connection, opened when first needed. */
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

  private fileError(error: unknown, action: string, path: string): unknown {
    if (error instanceof AppError) return error;
    const e = error as { code?: number | string; message?: string };
    if (this.link.isClosed) return this.link.lostError(`${action} ${path}`);
    if (e.code === 2) {
      return action === "read"
        ? new ReachError("UPSTREAM", "not-found", `${path} does not exist on ${this.link.label}.`)
        : new ReachError(
            "UPSTREAM",
            "not-found",
            `The folder ${posix.dirname(path)} does not exist on ${this.link.label}.`,
          );
    }
    if (e.code === 3) {
      return new ReachError(
        "UPSTREAM",
        "permission-denied",
        `Permission denied: the SSH user cannot ${action} ${path} on ${this.link.label}.`,
      );
    }
    return new ReachError(
      "UPSTREAM",
      "file",
      `Could not ${action} ${path} on ${this.link.label}: ${e.message ?? String(error)}.`,
    );
  }

  async readFile(path: string, opts?: { signal?: AbortSignal }): Promise<Readable> {
    checkPath(path);
    opts?.signal?.throwIfAborted();
    const sftp = await this.sftp();
    let handle: Buffer;
    try {
      handle = await call<Buffer>((cb) => sftp.open(path, "r", cb));
    } catch (error) {
      throw this.fileError(error, "read", path);
    }
    try {
      const h = handle;
      const attrs = await call<{ isDirectory(): boolean }>((cb) => sftp.fstat(h, cb));
      if (attrs.isDirectory()) throw new AppError("VALIDATION", `${path} is a folder, not a file.`);
      opts?.signal?.throwIfAborted();
    } catch (error) {
      sftp.close(handle, () => {});
      throw opts?.signal?.aborted ? opts.signal.reason : this.fileError(error, "read", path);
    }
    return destroyOnAbort(new SftpFileReader(sftp, handle, (e) => this.fileError(e, "read", path)), opts?.signal);
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
        throw this.fileError(e, "write", path);
      });
      created = true;
      const h = handle;
      await call((cb) => sftp.fchmod(h, mode, cb)).catch((e) => {
        throw this.fileError(e, "write", path);
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
              writeError ??= this.fileError(e, "write", path);
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
        throw this.fileError(e, "write", path);
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
      if (!/not support/i.test((error as Error).message ?? "")) throw this.fileError(error, "write", to);
    }
    try {
      await call((cb) => sftp.rename(from, to, cb));
    } catch {
      // Not atomic, for servers without the extension: remove the old file, then rename.
      await call((cb) => sftp.unlink(to, cb)).catch(() => {});
      await call((cb) => sftp.rename(from, to, cb)).catch((e) => {
        throw this.fileError(e, "write", to);
      });
    }
  }
}

/** Reads a remote file with several requests in flight (SFTP is otherwise one round trip per chunk). */
class SftpFileReader extends Readable {
  private next = 0;
  private readonly queue: { at: number; len: number; result: Promise<Buffer> }[] = [];
  private eof = false;
  private busy = false;
  private handleOpen = true;

  constructor(
    private readonly sftp: Sftp,
    private readonly handle: Buffer,
    private readonly mapError: (e: unknown) => unknown,
  ) {
    super({ highWaterMark: SFTP_CHUNK * 4 });
  }

  private request(at: number, len: number) {
    const result = new Promise<Buffer>((resolve, reject) => {
      const buf = Buffer.allocUnsafe(len);
      this.sftp.read(this.handle, buf, 0, len, at, (err, n) => (err ? reject(err) : resolve(buf.subarray(0, n))));
    });
    result.catch(() => {});
    return { at, len, result };
  }

  override _read(): void {
    void this.pump();
  }

  private async pump(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      for (;;) {
        while (!this.eof && this.queue.length < SFTP_INFLIGHT) {
          this.queue.push(this.request(this.next, SFTP_CHUNK));
          this.next += SFTP_CHUNK;
        }
        const head = this.queue[0];
        if (!head) {
          this.push(null);
          return;
        }
        const data = await head.result;
        if (this.destroyed) return;
        this.queue.shift();
        if (data.length === 0) {
          this.eof = true; // requests queued after it are past the end as well
          this.queue.length = 0;
          continue;
        }
        if (data.length < head.len) this.queue.unshift(this.request(head.at + data.length, head.len - data.length)); // short read
        if (!this.push(data)) return;
      }
    } catch (error) {
      this.destroy(this.mapError(error) as Error);
    } finally {
      this.busy = false;
    }
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.handleOpen) return callback(error);
    this.handleOpen = false;
    this.sftp.close(this.handle, () => callback(error));
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
