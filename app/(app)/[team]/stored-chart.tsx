import { formatBytes } from "@/lib/format";

/** Stored bytes (every copy) at the end of each day, as bars; plain SVG, no client code. */
export function StoredChart({ points }: { points: { day: string; bytes: number }[] }) {
  const max = Math.max(1, ...points.map((p) => p.bytes));
  const w = 600;
  const h = 120;
  const bar = w / points.length;
  const last = points.at(-1)!;
  return (
    <figure className="card space-y-2" data-testid="stored-chart">
      <figcaption className="flex items-baseline justify-between">
        <span className="font-medium">Stored over the last {points.length} days</span>
        <span className="muted text-sm">now {formatBytes(last.bytes)}</span>
      </figcaption>
      <svg
        viewBox={`0 0 ${w} ${h}`}
        className="h-32 w-full"
        role="img"
        aria-label={`Stored bytes per day, from ${points[0]!.day} to ${last.day}`}
      >
        {points.map((p, i) => {
          const bh = Math.round((p.bytes / max) * (h - 4));
          return (
            <rect
              key={p.day}
              x={i * bar + 1}
              y={h - bh}
              width={bar - 2}
              height={bh}
              className="fill-indigo-500 dark:fill-indigo-400"
            >
              <title>{`${p.day}: ${formatBytes(p.bytes)}`}</title>
            </rect>
          );
        })}
      </svg>
    </figure>
  );
}
