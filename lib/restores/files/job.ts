import type { Readable } from "node:stream";
import type { Reach } from "@/lib/reach";

export interface DirectoryRestoreJob {
  reach: Reach;
  /** For messages. */
  serverName: string;
  /** The plain tar stream (already gunzipped by the caller). */
  tar: Readable;
  /** Archive member prefixes to restore, e.g. ["files/var/www"]; each starts with "files/". */
  members: string[];
  /** Absolute folder on the server. */
  target: string;
  mode: "fresh" | "overwrite";
  /** Letters, digits, `_` (part of the private folder's name). */
  restoreId: string;
  /** Cancels: the server command is killed, what was created removed; rejects with the reason. */
  signal?: AbortSignal;
  /** Run-log lines. */
  onStep?: (line: string) => void;
  /** Bytes of the tar stream consumed so far. */
  onBytes?: (n: number) => void;
}

export interface DirectoryRestoreResult {
  /** Regular files written (hard links included). */
  files: number;
  /** Bytes of file data written. */
  bytes: number;
}
