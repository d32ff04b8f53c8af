import Link from "next/link";
import { formatAge } from "@/lib/format";
import type { TeamHealth } from "@/lib/health/overview";

const stateBadge = {
  failing: ["Failing", "bg-red-100 text-red-800 dark:bg-red-950 dark:text-red-300"],
  stale: ["Stale", "bg-amber-100 text-amber-800 dark:bg-amber-950 dark:text-amber-300"],
  ok: ["OK", "bg-emerald-100 text-emerald-800 dark:bg-emerald-950 dark:text-emerald-300"],
  paused: ["Paused", ""],
} as const;

/** The Overview's health: failing and stale schedules first, then every server's last good and verified backup. */
export function HealthPanel({ slug, health, now }: { slug: string; health: TeamHealth; now: Date }) {
  const since = (d: Date | null) => (d ? `${formatAge(now.getTime() - d.getTime())} ago` : "never");
  if (!health.schedules.length && !health.servers.length) return null;
  return (
    <section className="card mt-6 space-y-4" data-testid="health">
      <h2 className="font-semibold">Health</h2>
      {health.schedules.length > 0 && (
        <ul className="divide-y divide-zinc-200 dark:divide-zinc-800">
          {health.schedules.map((s) => {
            const [label, cls] = stateBadge[s.state];
            return (
              <li
                key={s.id}
                className="flex flex-wrap items-start justify-between gap-2 py-2 text-sm"
                data-testid={`health-${s.name}`}
              >
                <div className="min-w-0">
                  <Link className="font-medium hover:underline" href={`/${slug}/schedules`}>
                    {s.name}
                  </Link>{" "}
                  <span className="muted">on {s.serverName}</span>
                  <div className="muted text-xs">
                    Last success {since(s.lastSuccessAt)}; stale after {formatAge(s.staleAfterMs)} without one
                    {s.state === "stale" && s.staleSince && ` (stale since ${since(s.staleSince)})`}
                  </div>
                  {s.error && <div className="text-xs text-red-700 dark:text-red-400">{s.error}</div>}
                </div>
                <span className={`badge ${cls}`}>{label}</span>
              </li>
            );
          })}
        </ul>
      )}
      {health.servers.length > 0 && (
        <table className="w-full text-sm">
          <thead className="text-left text-xs text-zinc-500 dark:text-zinc-400 uppercase">
            <tr>
              <th className="py-1">Server</th>
              <th className="py-1">Last good backup</th>
              <th className="py-1">Last verified backup</th>
            </tr>
          </thead>
          <tbody>
            {health.servers.map((s) => (
              <tr
                key={s.id}
                className="border-t border-zinc-200 dark:border-zinc-800"
                data-testid={`health-server-${s.name}`}
              >
                <td className="py-1">{s.name}</td>
                <td className="py-1">{since(s.lastGood)}</td>
                <td className="py-1">{since(s.lastVerified)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
