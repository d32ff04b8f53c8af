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
