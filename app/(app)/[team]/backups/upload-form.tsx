"use client";
import { useRouter } from "next/navigation";
import { useState } from "react";
import { CheckboxGroup, Select } from "@/app/_components/form";
import { checkedValues } from "@/app/_components/use-action";
import { formatBytes } from "@/lib/format";

/** Sends the file as the request body (streamed by the browser), with upload progress. */
export function UploadForm({
  slug,
  servers,
  destinations,
}: {
  slug: string;
  servers: { id: string; name: string }[];
  destinations: { id: string; name: string }[];
}) {
  const router = useRouter();
  const [progress, setProgress] = useState<{ sent: number; total: number } | null>(null);
  const [error, setError] = useState<string | null>(null);
  return (
    <form
      className="space-y-3"
      aria-label="Upload a backup"
      onSubmit={(e) => {
        e.preventDefault();
        const form = e.currentTarget;
        const file = (form.elements.namedItem("file") as HTMLInputElement).files?.[0];
        if (!file) return setError("Choose a .tar.gz file to upload.");
        const query = new URLSearchParams({
          serverId: (form.elements.namedItem("serverId") as HTMLSelectElement).value,
          destinationIds: checkedValues(form, "destinationIds").join(","),
          encrypted: String((form.elements.namedItem("encrypted") as HTMLInputElement).checked),
          fileName: file.name,
        });
        setError(null);
        const xhr = new XMLHttpRequest();
        xhr.open("POST", `/api/teams/${slug}/backups/upload?${query}`);
        xhr.setRequestHeader("Content-Type", "application/gzip");
        xhr.upload.onprogress = (p) => setProgress({ sent: p.loaded, total: p.total });
        xhr.onload = () => {
          setProgress(null);
          const answer = JSON.parse(xhr.responseText || "{}") as { id?: string; error?: { message: string } };
          if (xhr.status === 201 && answer.id) return router.push(`/${slug}/backups/${answer.id}`);
          setError(answer.error?.message ?? `The upload failed (HTTP ${xhr.status}).`);
          router.refresh(); // the failed upload's row appears in the list
        };
        xhr.onerror = () => {
          setProgress(null);
          setError("The upload was interrupted. Check the connection and upload again.");
          router.refresh();
        };
        xhr.send(file);
      }}
    >
      {error && (
        <p
          role="alert"
          className="rounded-md bg-red-50 px-3 py-2 text-sm text-red-800 dark:bg-red-950 dark:text-red-300"
        >
          {error}
        </p>
      )}
      <div>
        <label htmlFor="upload-file" className="label">
          Archive (.tar.gz)
        </label>
        <input id="upload-file" name="file" type="file" accept=".gz,.tgz,application/gzip" className="input" required />
      </div>
      <Select
        label="Backup of server"
        name="serverId"
        id="upload-server"
        options={servers.map((s) => ({ value: s.id, label: s.name }))}
      />
      <CheckboxGroup legend="Destinations" name="destinationIds" options={destinations} isChecked={() => true} />
      <label className="flex items-center gap-2 text-sm">
        <input type="checkbox" name="encrypted" defaultChecked /> Encrypted
      </label>
      <button className="btn-primary" disabled={progress !== null}>
        {progress ? `Uploading… ${formatBytes(progress.sent)} of ${formatBytes(progress.total)}` : "Upload"}
      </button>
    </form>
  );
}
