"use client";
import { useRouter } from "next/navigation";
import { useState } from "react";
import { Field, FormError } from "@/app/_components/form";
import { SecretField } from "@/app/_components/secret-field";
import { CheckStatus } from "@/app/_components/status";
import { formFields, useAction } from "@/app/_components/use-action";
import type { DestinationView } from "@/lib/destinations/queries";
import { defaultClasses, destinationKinds, type DestinationKind } from "@/lib/destinations/schemas";
import { STORAGE_CLASSES } from "@/lib/storage/classes";
import {
  createDestinationAction,
  deleteDestinationAction,
  testDestinationAction,
  updateDestinationAction,
} from "./actions";
import { ScanForBackups } from "./scan";

type ServerOption = { id: string; name: string };

const kindLabels: Record<DestinationKind, string> = {
  local: "This Coffer host's disk",
  server: "A server's backup directory",
  s3: "Amazon S3 or S3-compatible",
  gcs: "Google Cloud Storage",
  azure: "Azure Blob Storage",
};

function where(d: DestinationView): string {
  const s = d.settings;
  const prefix = s.prefix ? `/${s.prefix}` : "";
  switch (d.kind) {
    case "local":
      return `Coffer data folder${prefix}`;
    case "server":
      return `${d.serverName ?? "server"}:${s.path}`;
    case "s3":
      return `s3://${s.bucket}${prefix}${s.endpoint ? ` at ${s.endpoint}` : ` (${s.region})`}`;
    case "gcs":
      return `gs://${s.bucket}${prefix}`;
    case "azure":
      return `${s.accountName ? `${s.accountName}/` : ""}${s.container}${prefix}`;
  }
}

export function DestinationCard({
  slug,
  destination: d,
  canTest,
  canEdit,
  servers,
}: {
  slug: string;
  destination: DestinationView;
  canTest: boolean;
  canEdit: boolean;
  servers: ServerOption[];
}) {
  const router = useRouter();
  const [editing, setEditing] = useState(false);
  const [scanning, setScanning] = useState(false);
  const test = useAction(testDestinationAction.bind(null, slug), () => router.refresh());
  const remove = useAction(deleteDestinationAction.bind(null, slug), () => router.refresh());
  return (
    <div className="card space-y-3" data-testid={`destination-${d.name}`}>
      <div className="flex items-start justify-between gap-2">
        <div className="min-w-0">
          <p className="font-medium">{d.name}</p>
          <p className="muted text-xs break-all">{where(d)}</p>
        </div>
        <span className="badge shrink-0">{kindLabels[d.kind]}</span>
      </div>
      {d.classDaily && (
        <p className="muted text-xs">
          Storage class: daily {d.classDaily} · weekly {d.classWeekly} · monthly {d.classMonthly}
        </p>
      )}
      <CheckStatus ok={d.checkOk} message={d.checkMessage} at={d.checkedAt} />
      <FormError error={test.error ?? remove.error} />
      <div className="flex flex-wrap gap-2">
        {canTest && (
          <button
            type="button"
            className="btn-secondary"
            disabled={test.pending}
            onClick={() => test.run({ destinationId: d.id })}
          >
            {test.pending ? "Testing…" : "Test"}
          </button>
        )}
        {canEdit && (
          <>
            <button type="button" className="btn-secondary" onClick={() => setEditing(!editing)}>
              {editing ? "Close" : "Edit"}
            </button>
            <button type="button" className="btn-secondary" onClick={() => setScanning(!scanning)}>
              {scanning ? "Close scan" : "Scan for backups"}
            </button>
            <button
              type="button"
              className="btn-danger"
              disabled={remove.pending}
              onClick={() =>
                confirm(`Delete destination ${d.name}? Backups already stored there are not deleted.`) &&
                remove.run({ destinationId: d.id })
              }
            >
              Delete
            </button>
          </>
        )}
      </div>
      {scanning && <ScanForBackups slug={slug} destinationId={d.id} servers={servers} />}
      {editing && <DestinationForm slug={slug} servers={servers} destination={d} onDone={() => setEditing(false)} />}
    </div>
  );
}

export function DestinationForm({
  slug,
  servers,
  destination,
  onDone,
}: {
  slug: string;
  servers: ServerOption[];
  destination?: DestinationView;
  onDone?: () => void;
}) {
  const router = useRouter();
  const [kind, setKind] = useState<DestinationKind>(destination?.kind ?? "local");
  const after = () => {
    onDone?.();
    router.refresh();
  };
  const create = useAction(createDestinationAction.bind(null, slug), after);
  const update = useAction(updateDestinationAction.bind(null, slug), after);
  const { pending, error } = destination ? update : create;
  const s = destination?.settings ?? {};
  const text = (name: string) => (typeof s[name] === "string" ? (s[name] as string) : "");
  const [endpoint, setEndpoint] = useState(text("endpoint"));
  // Left unset until the box is clicked, so the destination keeps lib/storage's default (path-style
  // with an endpoint), which the box shows.
  const [pathStyle, setPathStyle] = useState(typeof s.forcePathStyle === "boolean" ? s.forcePathStyle : undefined);
  const secret = (label: string, name: string, multiline = false, hint?: string) => (
    <SecretField
      label={label}
      name={name}
      isSet={!!destination?.credentialFields.includes(name)}
      error={error}
      multiline={multiline}
      hint={hint}
    />
  );
  const defaults = defaultClasses[kind];
  return (
    <form
      className="space-y-4"
      onSubmit={(e) => {
        e.preventDefault();
        const f: Record<string, string | boolean> = { ...formFields(e.currentTarget), kind };
        if (kind === "s3" && pathStyle !== undefined) f.forcePathStyle = pathStyle;
        if (destination) update.run({ ...f, destinationId: destination.id } as Parameters<typeof update.run>[0]);
        else create.run(f as Parameters<typeof create.run>[0]);
      }}
    >
      <FormError error={error} />
      {!destination && (
        <div>
          <label htmlFor="field-kind" className="label">
            Kind
          </label>
          <select
            id="field-kind"
            className="input"
            value={kind}
            onChange={(e) => setKind(e.target.value as DestinationKind)}
          >
            {destinationKinds.map((k) => (
              <option key={k} value={k}>
                {kindLabels[k]}
              </option>
            ))}
          </select>
        </div>
      )}
      <Field label="Name" name="name" defaultValue={destination?.name} required error={error} />
      {kind === "local" && (
        <Field
          label="Folder"
          name="prefix"
          defaultValue={text("prefix")}
          error={error}
          hint="A folder inside Coffer's data folder (empty for the top)."
        />
      )}
      {kind === "server" && (
        <>
          <div>
            <label htmlFor="field-serverId" className="label">
              Server
            </label>
            <select id="field-serverId" name="serverId" className="input" defaultValue={destination?.serverId ?? ""}>
              <option value="">Choose a server…</option>
              {servers.map((sv) => (
                <option key={sv.id} value={sv.id}>
                  {sv.name}
                </option>
              ))}
            </select>
            {error?.fieldErrors?.serverId && (
              <p className="mt-1 text-xs text-red-700 dark:text-red-400">{error.fieldErrors.serverId.join(" ")}</p>
            )}
          </div>
          <Field
            label="Backup directory"
            name="path"
            defaultValue={text("path")}
            placeholder="/var/backups/coffer"
            required
            error={error}
          />
        </>
      )}
      {(kind === "s3" || kind === "gcs") && (
        <div className="grid gap-4 sm:grid-cols-2">
          <Field label="Bucket" name="bucket" defaultValue={text("bucket")} required error={error} />
          <Field label="Prefix" name="prefix" defaultValue={text("prefix")} placeholder="coffer/" error={error} />
        </div>
      )}
      {kind === "s3" && (
        <>
          <div className="grid gap-4 sm:grid-cols-2">
            <Field label="Region" name="region" defaultValue={text("region") || "us-east-1"} required error={error} />
            <Field
              label="Endpoint (S3-compatible only)"
              name="endpoint"
              defaultValue={text("endpoint")}
              onChange={(e) => setEndpoint(e.target.value)}
              placeholder="https://s3.eu-central-003.backblazeb2.com"
              error={error}
            />
          </div>
          <label className="flex items-center gap-2 text-sm">
            <input
              type="checkbox"
              checked={pathStyle ?? endpoint.trim() !== ""}
              onChange={(e) => setPathStyle(e.target.checked)}
            />
            Path-style URLs (on by default with an endpoint: MinIO and most self-hosted services need them)
          </label>
          {secret("Access key ID", "accessKeyId")}
          {secret("Secret access key", "secretAccessKey")}
        </>
      )}
      {kind === "gcs" && (
        <>
          <div className="grid gap-4 sm:grid-cols-2">
            <Field label="Project ID (optional)" name="projectId" defaultValue={text("projectId")} error={error} />
            <Field
              label="API endpoint (optional)"
              name="apiEndpoint"
              defaultValue={text("apiEndpoint")}
              error={error}
            />
          </div>
          {secret("Service-account key (JSON)", "credentials", true, "Paste the whole key file Google Cloud gave you.")}
        </>
      )}
      {kind === "azure" && (
        <>
          <div className="grid gap-4 sm:grid-cols-2">
            <Field label="Container" name="container" defaultValue={text("container")} required error={error} />
            <Field label="Prefix" name="prefix" defaultValue={text("prefix")} error={error} />
          </div>
          <p className="muted text-xs">
            Authenticate with a connection string, or an account name and key, or a SAS URL.
          </p>
          {secret("Connection string", "connectionString")}
          <div className="grid gap-4 sm:grid-cols-2">
            <Field label="Account name" name="accountName" defaultValue={text("accountName")} error={error} />
            <Field label="Blob endpoint (optional)" name="endpoint" defaultValue={text("endpoint")} error={error} />
          </div>
          {secret("Account key", "accountKey")}
          {secret("SAS URL", "sasUrl")}
        </>
      )}
      {defaults && (
        <fieldset className="grid gap-4 sm:grid-cols-3">
          <legend className="label">Storage class per retention tier</legend>
          {(["classDaily", "classWeekly", "classMonthly"] as const).map((field, i) => (
            <div key={field}>
              <label htmlFor={`field-${field}`} className="muted text-xs">
                {["Daily", "Weekly", "Monthly"][i]}
              </label>
              <select
                id={`field-${field}`}
                name={field}
                className="input"
                defaultValue={destination?.[field] ?? defaults[i]}
              >
                {STORAGE_CLASSES[kind].map((c) => (
                  <option key={c}>{c}</option>
                ))}
              </select>
            </div>
          ))}
        </fieldset>
      )}
      <button className="btn-primary" disabled={pending}>
        {pending ? "Saving…" : destination ? "Save destination" : "Add destination"}
      </button>
    </form>
  );
}
