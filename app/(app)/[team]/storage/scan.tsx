"use client";
import { useRouter } from "next/navigation";
import { useRef, useState } from "react";
import { FormError } from "@/app/_components/form";
import { useAction, type ActionError } from "@/app/_components/use-action";
import type { ScanLine, ScannedObject } from "@/lib/catalogue/scan";
import type { TakeBackResult } from "@/lib/catalogue/take-back";
import { formatBytes, formatCount } from "@/lib/format";
import { takeBackBackupsAction } from "./actions";
import { TableScroll } from "@/app/_components/table-scroll";

type ServerOption = { id: string; name: string };

const verdictLabels: Record<ScannedObject["verdict"], string> = {
  importable: "Can be taken back",
  "in-catalogue": "Already here",
  "other-team": "Another team's",
  "missing-key": "Key not configured",
  damaged: "Damaged",
  unreadable: "Not readable",
};

/**
 * Scan for backups: streams the scan route's lines into a table as they come (Cancel closes the
 * request, which stops the scan), then takes the chosen backups back in under the chosen servers.
 */
export function ScanForBackups({
  slug,
  destinationId,
  servers,
}: {
  slug: string;
  destinationId: string;
  servers: ServerOption[];
}) {
  const router = useRouter();
  const [formerTeamId, setFormerTeamId] = useState("");
  const [objects, setObjects] = useState<ScannedObject[]>([]);
  const [progress, setProgress] = useState<{ listed: number; backups: number; done: boolean } | null>(null);
  const [scanError, setScanError] = useState<ActionError | null>(null);
  const [chosen, setChosen] = useState<Set<string>>(new Set());
  const [serverFor, setServerFor] = useState<Record<string, string>>({});
  const [result, setResult] = useState<TakeBackResult | null>(null);
  const running = useRef<AbortController | null>(null);
  const [scanning, setScanning] = useState(false);
  const takeBack = useAction(takeBackBackupsAction.bind(null, slug), (r) => {
    setResult(r);
    router.refresh();
  });

  async function scan() {
    const stop = new AbortController();
    running.current = stop;
    setScanning(true);
    setObjects([]);
    setChosen(new Set());
    setResult(null);
    setScanError(null);
    setProgress({ listed: 0, backups: 0, done: false });
    try {
      const res = await fetch(`/api/teams/${slug}/storage/${destinationId}/scan`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ formerTeamId }),
        signal: stop.signal,
      });
      if (!res.ok || !res.body) {
        const body = (await res.json().catch(() => null)) as { error?: ActionError } | null;
        setScanError(body?.error ?? { code: "INTERNAL", message: `The scan failed (HTTP ${res.status}).` });
        return;
      }
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let rest = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        const lines = (rest + value).split("\n");
        rest = lines.pop()!;
        for (const text of lines) if (text) receive(JSON.parse(text) as ScanLine);
      }
    } catch (err) {
      if (!stop.signal.aborted) setScanError({ code: "UPSTREAM", message: `The scan stopped: ${String(err)}` });
    } finally {
      running.current = null;
      setScanning(false);
    }
  }

  function receive(line: ScanLine) {
    if (line.type === "object") {
      const o = line.object;
      setObjects((all) => [...all, o]);
      if (o.verdict === "importable") setChosen((c) => new Set(c).add(o.key));
      if (o.serverId && o.server)
        setServerFor((m) =>
          m[o.serverId!] ? m : { ...m, [o.serverId!]: servers.find((s) => s.name === o.server)?.id ?? "" },
        );
    } else if (line.type === "error") {
      setScanError(line as ActionError);
    } else {
      setProgress({ listed: line.listed, backups: line.backups, done: line.type === "done" });
    }
  }

  const picked = objects.filter((o) => chosen.has(o.key));
  const unmapped = picked.some((o) => !serverFor[o.serverId ?? ""]);
  const origins = [...new Map(picked.map((o) => [o.serverId ?? "", o.server ?? "?"])).entries()];

  return (
    <div className="space-y-3 border-t border-zinc-200 pt-3 dark:border-zinc-800" data-testid="scan-for-backups">
      <p className="muted text-xs">
        Lists every object here whose header names this team, reads each one&apos;s manifest, and takes the ones you
        choose back in as backups (after Coffer&apos;s database was lost, or on a new Coffer with the same master keys).
        Backups made under another team id: enter that id (Team settings of the old Coffer, or{" "}
        <code>npx coffer inspect</code> on one of its objects).
      </p>
      <div className="flex flex-wrap items-end gap-2">
        <label className="text-sm">
          <span className="block text-xs font-medium">Former team id (optional)</span>
          <input
            className="input"
            name="formerTeamId"
            value={formerTeamId}
            onChange={(e) => setFormerTeamId(e.target.value)}
            placeholder="team_…"
          />
        </label>
        {scanning ? (
          <button type="button" className="btn-secondary" onClick={() => running.current?.abort()}>
            Cancel
          </button>
        ) : (
          <button type="button" className="btn-primary" onClick={() => void scan()}>
            Scan
          </button>
        )}
      </div>
      {progress && (
        <p className="muted text-xs" data-testid="scan-progress">
          {progress.done ? "Scanned" : scanning ? "Scanning…" : "Stopped after"}{" "}
          {formatCount(progress.listed, "object")} listed, {progress.backups.toLocaleString("en")} named like a backup.
        </p>
      )}
      <FormError error={scanError ?? takeBack.error} />
      {objects.length > 0 && (
        <TableScroll label="Objects found">
          <table className="w-full text-xs">
            <thead className="text-left uppercase text-zinc-500 dark:text-zinc-400">
              <tr>
                <th />
                <th className="py-1">Backup</th>
                <th className="py-1">Key</th>
                <th className="py-1 text-right">Size</th>
                <th className="py-1">Date</th>
                <th className="py-1">State</th>
              </tr>
            </thead>
            <tbody>
              {objects.map((o) => (
                <tr key={o.key} className="border-t border-zinc-200 align-top dark:border-zinc-800">
                  <td className="py-1 pr-1">
                    <input
                      type="checkbox"
                      aria-label={`Take back ${o.key}`}
                      disabled={o.verdict !== "importable"}
                      checked={chosen.has(o.key)}
                      onChange={(e) =>
                        setChosen((c) => {
                          const next = new Set(c);
                          if (e.target.checked) next.add(o.key);
                          else next.delete(o.key);
                          return next;
                        })
                      }
                    />
                  </td>
                  <td className="py-1 break-all">
                    {o.backupId ?? o.key}
                    {o.server && <span className="muted block">{[o.server, ...(o.sources ?? [])].join(" · ")}</span>}
                  </td>
                  <td className="py-1">{o.keyId ?? "—"}</td>
                  <td className="py-1 text-right tabular-nums">{formatBytes(o.size)}</td>
                  <td className="py-1">{(o.startedAt ?? o.lastModified ?? "").slice(0, 16).replace("T", " ")}</td>
                  <td className="py-1">
                    <span className="font-medium">{verdictLabels[o.verdict]}</span>
                    {o.verdict !== "importable" && <span className="muted block">{o.reason}</span>}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableScroll>
      )}
      {picked.length > 0 && (
        <div className="space-y-2">
          {origins.map(([origin, name]) => (
            <label key={origin} className="block text-sm">
              <span className="text-xs font-medium">
                Backups of {name} ({origin}) go under
              </span>{" "}
              <select
                className="input"
                value={serverFor[origin] ?? ""}
                onChange={(e) => setServerFor((m) => ({ ...m, [origin]: e.target.value }))}
              >
                <option value="">Choose a server…</option>
                {servers.map((s) => (
                  <option key={s.id} value={s.id}>
                    {s.name}
                  </option>
                ))}
              </select>
            </label>
          ))}
          {servers.length === 0 && <p className="muted text-xs">Add the servers first: backups are kept under one.</p>}
          <button
            type="button"
            className="btn-primary"
            disabled={takeBack.pending || unmapped}
            onClick={() =>
              takeBack.run({
                destinationId,
                formerTeamId: formerTeamId || undefined,
                objects: picked.map((o) => ({ key: o.key, serverId: serverFor[o.serverId ?? ""]! })),
              })
            }
          >
            {takeBack.pending ? "Taking back…" : `Take back ${formatCount(picked.length, "backup")}`}
          </button>
        </div>
      )}
      {result && (
        <div className="text-sm" data-testid="take-back-result">
          <p>Took back {formatCount(result.taken.length, "backup")}.</p>
          {result.skipped.map((s) => (
            <p key={s.key} className="muted text-xs break-all">
              {s.key}: {s.reason}
            </p>
          ))}
        </div>
      )}
    </div>
  );
}
