/** Elapsed time and average rate of a job, from its timestamps (shared by every app instance). */
export function progressOf(
  job: { status: string; startedAt: Date | null; finishedAt: Date | null; bytesDone: number },
  now = new Date(),
) {
  if (!job.startedAt) return { elapsedMs: 0, bytesPerSecond: 0 };
  const end = job.finishedAt ?? (job.status === "running" ? now : job.startedAt);
  const elapsedMs = Math.max(0, end.getTime() - job.startedAt.getTime());
  return { elapsedMs, bytesPerSecond: elapsedMs > 0 ? Math.round((job.bytesDone * 1000) / elapsedMs) : 0 };
}

/** What the previous successful run of the same work wrote and how long it took. */
export interface PreviousRun {
  bytes: number;
  durationMs: number;
}

/** Seconds into a run before its own rate is trusted (connecting, the dump's first rows). */
const settleMs = 10_000;

/**
 * Time left of a running job: the bytes the previous run wrote, less those written so far, at the
 * current rate (the previous run's rate until the run has settled). Null with nothing to go by;
 * `msLeft` 0 once this run has written more than the previous one did.
 */
export function estimateOf(
  job: { bytesDone: number; bytesPerSecond: number; elapsedMs: number },
  previous: PreviousRun | null,
): { expectedBytes: number; fraction: number; msLeft: number } | null {
  if (!previous || previous.bytes <= 0 || previous.durationMs <= 0) return null;
  const own = job.elapsedMs >= settleMs && job.bytesPerSecond > 0;
  const rate = own ? job.bytesPerSecond : (previous.bytes * 1000) / previous.durationMs;
  const remaining = Math.max(0, previous.bytes - job.bytesDone);
  return {
    expectedBytes: previous.bytes,
    fraction: Math.min(1, job.bytesDone / previous.bytes),
    msLeft: Math.round((remaining * 1000) / rate),
  };
}
