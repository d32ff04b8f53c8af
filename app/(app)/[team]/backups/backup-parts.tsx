"use client";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useEffect, useState } from "react";
import { CheckboxGroup, FormError, Select } from "@/app/_components/form";
import { checkedValues, useAction, type ActionError } from "@/app/_components/use-action";
import { compressionSettings, compressionText, type CompressionSetting } from "@/lib/backups/compression";
import { LocalTime } from "@/app/_components/local-time";
import { describeChecks, formatBytes, formatDuration } from "@/lib/format";
import { encryptionFormats, encryptionText, type EncryptionFormat } from "@/lib/openpgp/encryption";
import {
  backUpNowAction,
  cancelBackupAction,
  deleteBackupAction,
  deleteFromTrashAction,
  removeFailedUploadAction,
  requestRetrievalAction,
  restoreFromTrashAction,
} from "./actions";

const statusStyle: Record<string, string> = {
  queued: "bg-zinc-100 text-zinc-700 dark:bg-zinc-800 dark:text-zinc-300",
  running: "bg-sky-100 text-sky-800 dark:bg-sky-950 dark:text-sky-300",
  succeeded: "bg-emerald-100 text-emerald-800 dark:bg-emerald-950 dark:text-emerald-300",
  failed: "bg-red-100 text-red-800 dark:bg-red-950 dark:text-red-300",
  cancelled: "bg-amber-100 text-amber-800 dark:bg-amber-950 dark:text-amber-300",
  trashed: "bg-orange-100 text-orange-800 dark:bg-orange-950 dark:text-orange-300",
  expired: "bg-zinc-100 text-zinc-500 line-through dark:bg-zinc-800 dark:text-zinc-400",
};
const statusLabel: Record<string, string> = {
  queued: "Queued",
  running: "Running",
  succeeded: "Succeeded",
  failed: "Failed",
  cancelled: "Cancelled",
  trashed: "In the trash",
  expired: "Expired",
};

export function StatusBadge({ status }: { status: string }) {
  return (
    <span className={`badge ${statusStyle[status] ?? ""}`} data-testid="backup-status">
      {statusLabel[status] ?? status}
    </span>
  );
}

type Verification = {
  status: "verified" | "failed";
  at: string;
  tables: number;
  files: number;
  differences: string[];
} | null;

export interface VerificationFacts {
  status: string;
  trigger: string;
  /** Asked to be verified when it succeeded (a schedule's setting, or Back up now's). */
  verify: boolean;
  verification: Verification;
}

/**
 * Why a succeeded backup has no verification result, or null while one is on its way. `run`: the
 * status of its latest verification run, if any.
 */
function notVerifiedReason(b: VerificationFacts, run: string | undefined): string | null {
  if (run === "queued" || run === "running" || (!run && b.verify)) return null;
  if (run === "cancelled") return "Its verification was cancelled: Restore or verify, then Verify now.";
  if (run) return "Its verification could not run to the end: see Restore or verify.";
  if (b.trigger === "schedule") return "Its schedule does not verify backups.";
  if (b.trigger === "upload") return "Uploads are verified when asked: Restore or verify, then Verify now.";
  if (b.trigger === "safety") return "Safety backups (taken when a restore replaces a database) are not verified.";
  if (b.trigger === "import") return "Taken back from storage: Restore or verify, then Verify now.";
  return "Verify was not chosen when it was started: Restore or verify, then Verify now.";
}

/**
 * Every succeeded backup's verification state: verified or failed (when, and what it checked or
 * what differed), pending, or not verified with the reason (the badge's title; spelled out with
 * `explain`). `run`: the status of its latest verification run.
 */
export function VerifiedBadge({
  backup,
  run,
  explain = false,
}: {
  backup: VerificationFacts;
  run: string | undefined;
  explain?: boolean;
}) {
  const { verification } = backup;
  if (!verification) {
    if (backup.status !== "succeeded") return null;
    const reason = notVerifiedReason(backup, run);
    if (!reason)
      return (
        <span
          className="badge"
          data-testid="verified-indicator"
          title="It is restored into a scratch database and checked against its manifest."
        >
          Verification pending
        </span>
      );
    return (
      <>
        <span className="badge" data-testid="verified-indicator" title={reason}>
          Not verified
        </span>
        {explain && (
          <span className="muted mt-1 block text-xs" data-testid="not-verified-reason">
            {reason}
          </span>
        )}
      </>
    );
  }
  const at = <LocalTime at={verification.at} />;
  return verification.status === "verified" ? (
    <span
      className="badge bg-emerald-100 text-emerald-800 dark:bg-emerald-950 dark:text-emerald-300"
      data-testid="verified-indicator"
      title={`Restored and checked: ${describeChecks(verification.tables, verification.files)}.`}
    >
      Verified {at}
    </span>
  ) : (
    <span
      className="badge bg-red-100 text-red-800 dark:bg-red-950 dark:text-red-300"
      data-testid="verified-indicator"
      title={verification.differences.join("\n")}
    >
      Verification failed {at}
    </span>
  );
}

/**
 * Bytes so far, rate and elapsed time of a run (the page refreshes every 2 s while it runs), and
 * the time left when a previous backup of the same sources gives something to go by.
 */
export function Progress({
  bytesDone,
  bytesPerSecond,
  elapsedMs,
  estimate,
}: {
  bytesDone: number;
  bytesPerSecond: number;
  elapsedMs: number;
  estimate?: { expectedBytes: number; fraction: number; msLeft: number } | null;
}) {
  return (
    <span className="text-sm tabular-nums" data-testid="backup-progress">
      {formatBytes(bytesDone)} · {formatBytes(bytesPerSecond)}/s · {formatDuration(elapsedMs)}
      {estimate && (
        <span className="block" data-testid="backup-eta">
          {estimate.msLeft > 0
            ? `About ${formatDuration(estimate.msLeft)} left (${Math.floor(estimate.fraction * 100)} % of the ${formatBytes(estimate.expectedBytes)} the previous backup wrote)`
            : `Finishing: more than the ${formatBytes(estimate.expectedBytes)} the previous backup wrote`}
        </span>
      )}
    </span>
  );
}

/** Re-renders the page from the server every `ms` while `active` (progress lives in the database). */
export function AutoRefresh({ active, ms = 2000 }: { active: boolean; ms?: number }) {
  const router = useRouter();
  useEffect(() => {
    if (!active) return;
    const timer = setInterval(() => router.refresh(), ms);
    return () => clearInterval(timer);
  }, [active, ms, router]);
  return null;
}

export function CancelButton({ slug, backupId }: { slug: string; backupId: string }) {
  const router = useRouter();
  const cancel = useAction(cancelBackupAction.bind(null, slug), () => router.refresh());
  return (
    <span>
      <button
        type="button"
        className="btn-danger"
        disabled={cancel.pending}
        onClick={() => confirm("Cancel this backup? Nothing it wrote is kept.") && cancel.run({ backupId })}
      >
        Cancel
      </button>
      <FormError error={cancel.error} />
    </span>
  );
}

/** Members: a failed upload stored nothing; Remove clears its row (then goes to `after`, else stays). */
export function RemoveFailedUploadButton({
  slug,
  backupId,
  after,
}: {
  slug: string;
  backupId: string;
  after?: string;
}) {
  const router = useRouter();
  const remove = useAction(removeFailedUploadAction.bind(null, slug), () =>
    after ? router.push(after) : router.refresh(),
  );
  return (
    <span>
      <button
        type="button"
        className="btn-secondary"
        disabled={remove.pending}
        onClick={() => remove.run({ backupId })}
        aria-label="Remove this failed upload"
      >
        Remove
      </button>
      <FormError error={remove.error} />
    </span>
  );
}

/** Admins: Delete (to the trash) for a kept backup; Restore and Delete now for one in the trash. */
export function TrashButtons({ slug, backupId, trashed }: { slug: string; backupId: string; trashed: boolean }) {
  const router = useRouter();
  const remove = useAction(deleteBackupAction.bind(null, slug), () => router.refresh());
  const restore = useAction(restoreFromTrashAction.bind(null, slug), () => router.refresh());
  const purge = useAction(deleteFromTrashAction.bind(null, slug), () => router.refresh());
  const pending = remove.pending || restore.pending || purge.pending;
  return (
    <span className="flex flex-wrap items-center gap-2">
      {trashed ? (
        <>
          <button type="button" className="btn-secondary" disabled={pending} onClick={() => restore.run({ backupId })}>
            Restore
          </button>
          <button
            type="button"
            className="btn-danger"
            disabled={pending}
            onClick={() =>
              confirm("Delete this backup's stored copies now? This cannot be undone.") && purge.run({ backupId })
            }
          >
            Delete now
          </button>
        </>
      ) : (
        <button
          type="button"
          className="btn-danger"
          disabled={pending}
          onClick={() =>
            confirm(
              "Delete this backup? It goes to the trash, where admins can restore it until its grace period ends.",
            ) && remove.run({ backupId })
          }
        >
          Delete backup
        </button>
      )}
      <FormError error={remove.error ?? restore.error ?? purge.error} />
    </span>
  );
}

/**
 * Download. While every copy sits in archive storage, a POST goes first: the server asks the
 * provider for a retrieval (or says how far one is) and that message is shown here; once a copy
 * is readable the download (a GET, which never asks for a retrieval) starts.
 */
export function DownloadButton({
  slug,
  backupId,
  href,
  fileName,
  archived,
}: {
  slug: string;
  backupId: string;
  href: string;
  fileName: string;
  archived: boolean;
}) {
  const router = useRouter();
  const [error, setError] = useState<ActionError | null>(null);
  const [pending, setPending] = useState(false);
  if (!archived) {
    return (
      <a className="btn-primary" href={href} download={fileName}>
        Download
      </a>
    );
  }
  const start = async () => {
    setPending(true);
    setError(null);
    try {
      const result = await requestRetrievalAction(slug, { backupId });
      if (result.ok) window.location.assign(href);
      else setError(result.error);
    } catch {
      setError({ code: "UPSTREAM", message: "Coffer could not be reached. Check your connection and try again." });
    } finally {
      setPending(false);
      router.refresh(); // the copies' retrieval state
    }
  };
  return (
    <span className="space-y-2">
      <button type="button" className="btn-primary" disabled={pending} onClick={() => void start()}>
        Download
      </button>
      <FormError error={error} />
    </span>
  );
}

/** How an encrypted backup is sealed: Coffer's format, or OpenPGP to the team's keys (Settings). */
export function EncryptionSelect({ defaultValue = "coffer" }: { defaultValue?: EncryptionFormat }) {
  return (
    <Select
      label="Encryption format"
      name="encryption"
      defaultValue={defaultValue}
      options={encryptionFormats.map((f) => ({
        value: f,
        label: `${encryptionText[f]}${f === "coffer" ? " (default)" : " — readable with gpg --decrypt (Settings → OpenPGP keys)"}`,
      }))}
    />
  );
}

/** The compression setting of a schedule or a Back up now, each option saying which tool it uses. */
export function CompressionSelect({ defaultValue = "fast" }: { defaultValue?: CompressionSetting }) {
  return (
    <Select
      label="Compression"
      name="compression"
      defaultValue={defaultValue}
      options={compressionSettings.map((s) => ({
        value: s,
        label: `${compressionText[s].label}${s === "fast" ? " (default)" : ""} — ${compressionText[s].detail}`,
      }))}
    />
  );
}

export interface BackUpNowOptions {
  serverId: string;
  sources: { id: string; name: string }[];
  destinations: { id: string; name: string }[];
  /** Pre-selected (a schedule's own); default: every source, every destination, not verified. */
  selected?: {
    sourceIds: string[];
    destinationIds: string[];
    encrypted: boolean;
    encryption: EncryptionFormat;
    compression: CompressionSetting;
    verify: boolean;
    verifySourceId?: string;
  };
}

/** "Back up now": which sources, where to, encrypted or not, how compressed; then opens the run page. */
export function BackUpNowForm({
  slug,
  options,
  label = "Back up now",
}: {
  slug: string;
  options: BackUpNowOptions;
  label?: string;
}) {
  const router = useRouter();
  const [open, setOpen] = useState(false);
  const start = useAction(backUpNowAction.bind(null, slug), ({ id }) => router.push(`/${slug}/backups/${id}`));
  if (!open) {
    return (
      <button type="button" className="btn-primary" onClick={() => setOpen(true)}>
        {label}
      </button>
    );
  }
  const sel = options.selected;
  return (
    <form
      // A schedule saved just before opening: its new settings arrive after, and become the defaults.
      key={JSON.stringify(sel ?? null)}
      className="card space-y-3"
      aria-label="Back up now"
      onSubmit={(e) => {
        e.preventDefault();
        const form = e.currentTarget;
        start.run({
          serverId: options.serverId,
          sourceIds: checkedValues(form, "sourceIds"),
          destinationIds: checkedValues(form, "destinationIds"),
          encrypted: (form.elements.namedItem("encrypted") as HTMLInputElement).checked,
          encryption: (form.elements.namedItem("encryption") as HTMLSelectElement).value as EncryptionFormat,
          compression: (form.elements.namedItem("compression") as HTMLSelectElement).value as CompressionSetting,
          verify: (form.elements.namedItem("verify") as HTMLInputElement).checked,
          verifySourceId: sel?.verifySourceId,
        });
      }}
    >
      <FormError error={start.error} />
      <CheckboxGroup
        legend="Sources"
        name="sourceIds"
        options={options.sources}
        isChecked={(id) => (sel ? sel.sourceIds.includes(id) : true)}
        empty={
          <>
            This server has no sources yet:{" "}
            <Link
              className="text-indigo-700 underline dark:text-indigo-300"
              href={`/${slug}/servers/${options.serverId}`}
            >
              add one on its page
            </Link>
            .
          </>
        }
        error={start.error}
      />
      <CheckboxGroup
        legend="Destinations"
        name="destinationIds"
        options={options.destinations}
        isChecked={(id) => (sel ? sel.destinationIds.includes(id) : true)}
        empty={
          <>
            <Link className="text-indigo-700 underline dark:text-indigo-300" href={`/${slug}/storage`}>
              Add a storage destination
            </Link>{" "}
            first.
          </>
        }
        error={start.error}
      />
      <CompressionSelect defaultValue={sel?.compression} />
      <label className="flex items-center gap-2 text-sm">
        <input type="checkbox" name="encrypted" defaultChecked={sel?.encrypted ?? true} /> Encrypted
      </label>
      <EncryptionSelect defaultValue={sel?.encryption} />
      <label className="flex items-center gap-2 text-sm">
        <input type="checkbox" name="verify" defaultChecked={sel?.verify ?? false} /> Verify it when it is done (restore
        into a scratch database and compare with the manifest)
      </label>
      <div className="flex gap-2">
        <button
          className="btn-primary"
          disabled={start.pending || options.sources.length === 0 || options.destinations.length === 0}
        >
          {start.pending ? "Starting…" : "Start backup"}
        </button>
        <button type="button" className="btn-secondary" onClick={() => setOpen(false)}>
          Close
        </button>
      </div>
    </form>
  );
}
