import "server-only";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { Duplex } from "node:stream";
import { createGunzip } from "node:zlib";
import { childProcessEnv } from "../env";

/**
 * The fastest gunzip on the Coffer host, where restores and verifications decompress: ISA-L's
 * `igzip -d` when installed (about twice zlib's speed, in a process of its own beside Node's
 * decryption, tar parsing and hashing), else Node's zlib, which beat `pigz -d` and `gzip -d`
 * through a pipe on this kind of machine (docs/design/archive.md#compression).
 */
export function gunzip(): Duplex {
  return hasIgzip() ? new ChildGunzip() : createGunzip({ chunkSize: GUNZIP_CHUNK });
}

/** Larger than zlib's 16 KiB default: a restore is bound by this CPU on small machines (bench:restore). */
const GUNZIP_CHUNK = 256 * 1024;

const env = () => childProcessEnv() as NodeJS.ProcessEnv; // NODE_ENV is deliberately not passed on

let igzip: boolean | undefined;
function hasIgzip(): boolean {
  igzip ??= spawnSync("igzip", ["--version"], { env: env(), stdio: "ignore" }).status === 0;
  return igzip;
}

/** `igzip -d` as a stream: its failure (damaged or truncated gzip) errors the stream like zlib's would. */
class ChildGunzip extends Duplex {
  private readonly child: ChildProcess;
  private stderr = "";
  private exited = false;

  constructor() {
    super({ readableHighWaterMark: GUNZIP_CHUNK });
    const child = spawn("igzip", ["-d", "-c"], { env: env(), stdio: ["pipe", "pipe", "pipe"] });
    this.child = child;
    child.stdin!.on("error", () => {}); // EPIPE when igzip quits early: its exit says why
    child.stderr!.on("data", (d: Buffer) => (this.stderr = (this.stderr + d.toString()).slice(-2000)));
    child.stdout!.on("data", (chunk: Buffer) => {
      if (!this.push(chunk)) child.stdout!.pause();
    });
    child.once("error", (e) => this.destroy(e));
    child.once("close", (code, signal) => {
      this.exited = true;
      if (code === 0) this.push(null);
      else if (!this.destroyed) this.destroy(damaged(this.stderr.trim() || `igzip exited with ${code ?? signal}`));
    });
  }

  override _read(): void {
    this.child.stdout!.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.child.stdin!.write(chunk)) callback();
    else this.child.stdin!.once("drain", () => callback());
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.child.stdin!.end(callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.exited) this.child.kill("SIGKILL");
    callback(error);
  }
}

/** Marked like zlib's data errors, so a damaged archive is reported as such (archiveDamage). */
function damaged(message: string): Error {
  return Object.assign(new Error(message.replace(/^igzip: /, "")), { code: "Z_DATA_ERROR" });
}
