"use client";
import { Bar, BarChart, CartesianGrid, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { formatBytes } from "@/lib/format";

type Point = { day: string; bytes: number; byDestination: Record<string, number> };
type Destination = { id: string; name: string };

// Distinct in light and dark, each at least 3:1 against both card backgrounds.
const colors = ["#6366f1", "#10b981", "#f59e0b", "#0ea5e9", "#ec4899", "#8b5cf6", "#84cc16", "#f97316"];
const dayLabel = (day: string, month: "short" | "long" = "short") =>
  new Intl.DateTimeFormat("en-GB", { day: "numeric", month, timeZone: "UTC" }).format(new Date(`${day}T00:00:00Z`));

/**
 * Stored bytes (every copy) at the end of each day, one stacked bar per destination: axes with
 * dates and sizes, the day's figures on hover or keyboard focus, a legend; the same figures as a
 * table for screen readers.
 */
export function StoredChart({ points, destinations }: { points: Point[]; destinations: Destination[] }) {
  // Only destinations that held something in the period get a colour and a legend entry.
  const shown = destinations.filter((d) => points.some((p) => p.byDestination[d.id]));
  const data = points.map((p) => ({ day: p.day, ...p.byDestination }));
  const last = points.at(-1)!;
  return (
    <figure className="card space-y-3" data-testid="stored-chart">
      <figcaption className="flex flex-wrap items-baseline justify-between gap-x-4">
        <span className="font-medium">Stored over the last {points.length} days</span>
        <span className="muted text-sm">now {formatBytes(last.bytes)}</span>
      </figcaption>
      <div className="h-64 text-zinc-600 dark:text-zinc-400" aria-hidden>
        <ResponsiveContainer width="100%" height="100%" initialDimension={{ width: 600, height: 256 }}>
          <BarChart data={data} margin={{ top: 4, right: 4, bottom: 4, left: 8 }} accessibilityLayer={false}>
            <CartesianGrid vertical={false} stroke="currentColor" strokeOpacity={0.15} />
            <XAxis
              dataKey="day"
              tickFormatter={(d: string) => dayLabel(d)}
              tick={{ fill: "currentColor", fontSize: 12 }}
              stroke="currentColor"
              minTickGap={16}
              label={{ value: "Day (UTC)", position: "insideBottom", offset: -2, fill: "currentColor", fontSize: 12 }}
              height={40}
            />
            <YAxis
              tickFormatter={(b: number) => formatBytes(b)}
              tick={{ fill: "currentColor", fontSize: 12 }}
              stroke="currentColor"
              width={76}
              label={{ value: "Stored", angle: -90, position: "insideLeft", fill: "currentColor", fontSize: 12 }}
            />
            <Tooltip
              cursor={{ fill: "currentColor", fillOpacity: 0.08 }}
              content={({ active, label, payload }) =>
                active && payload?.length ? (
                  <div className="rounded-lg border border-zinc-200 bg-white p-2 text-xs text-zinc-900 shadow dark:border-zinc-700 dark:bg-zinc-900 dark:text-zinc-100">
                    <p className="font-medium">{dayLabel(String(label), "long")}</p>
                    {payload.map((e) => (
                      <p key={String(e.dataKey)} className="tabular-nums">
                        <span style={{ color: e.color }}>■</span> {e.name}: {formatBytes(Number(e.value))}
                      </p>
                    ))}
                  </div>
                ) : null
              }
            />
            <Legend
              wrapperStyle={{ fontSize: 12 }}
              formatter={(name: string) => <span className="text-zinc-700 dark:text-zinc-300">{name}</span>}
            />
            {shown.map((d, i) => (
              // Drawn at once: no growing bars (screenshots and reduced motion see the real heights).
              <Bar
                key={d.id}
                dataKey={d.id}
                name={d.name}
                stackId="stored"
                fill={colors[i % colors.length]}
                isAnimationActive={false}
              />
            ))}
          </BarChart>
        </ResponsiveContainer>
      </div>
      {/* In a hidden box, not a hidden table: a table's rows ignore its 1 px size and lengthen the page. */}
      <div className="sr-only">
        <table data-testid="stored-figures">
          <caption>Stored at the end of each day (UTC)</caption>
          <thead>
            <tr>
              <th scope="col">Day</th>
              {shown.map((d) => (
                <th key={d.id} scope="col">
                  {d.name}
                </th>
              ))}
              <th scope="col">All</th>
            </tr>
          </thead>
          <tbody>
            {points.map((p) => (
              <tr key={p.day}>
                <th scope="row">{dayLabel(p.day, "long")}</th>
                {shown.map((d) => (
                  <td key={d.id}>{formatBytes(p.byDestination[d.id] ?? 0)}</td>
                ))}
                <td>{formatBytes(p.bytes)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </figure>
  );
}
