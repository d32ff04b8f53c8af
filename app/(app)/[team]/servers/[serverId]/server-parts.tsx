"use client";
import { useRouter } from "next/navigation";
import { useState } from "react";
import { Field, FormError, TextArea } from "@/app/_components/form";
import { SecretField } from "@/app/_components/secret-field";
import { CheckStatus } from "@/app/_components/status";
import { formFields, useAction } from "@/app/_components/use-action";
import type { SourceView } from "@/lib/servers/queries";
import { sslModes } from "@/lib/servers/schemas";
import {
  acceptHostKeyAction,
  createSourceAction,
  deleteServerAction,
  deleteSourceAction,
  testServerAction,
  testSourceAction,
  updateSourceAction,
} from "../actions";

type Target = { serverId: string } | { sourceId: string };

export function TestButton({ slug, target, label = "Test" }: { slug: string; target: Target; label?: string }) {
  const router = useRouter();
  const [facts, setFacts] = useState<Record<string, string> | null>(null);
  const server = useAction(testServerAction.bind(null, slug), (r) => (setFacts(r.facts), router.refresh()));
  const source = useAction(testSourceAction.bind(null, slug), (r) => (setFacts(r.facts), router.refresh()));
  const a = "serverId" in target ? server : source;
  return (
    <div className="space-y-2">
      <button
        type="button"
        className="btn-secondary"
        disabled={a.pending}
        onClick={() => ("serverId" in target ? server.run(target) : source.run(target as { sourceId: string }))}
      >
        {a.pending ? "Testing…" : label}
      </button>
      <FormError error={a.error} />
      {facts && Object.keys(facts).length > 0 && (
        <dl className="grid grid-cols-[auto_1fr] gap-x-3 text-xs" data-testid="check-facts">
          {Object.entries(facts).map(([k, v]) => (
            <div key={k} className="contents">
              <dt className="muted">{k}</dt>
              <dd className="break-all">{v}</dd>
            </div>
          ))}
        </dl>
      )}
    </div>
  );
}

export function DeleteButton({ slug, target, what }: { slug: string; target: Target; what: string }) {
  const router = useRouter();
  const server = useAction(
    deleteServerAction.bind(null, slug),
    () => (router.push(`/${slug}/servers`), router.refresh()),
  );
  const source = useAction(deleteSourceAction.bind(null, slug), () => router.refresh());
  const a = "serverId" in target ? server : source;
  return (
    <div className="space-y-2">
      <FormError error={a.error} />
      <button
        type="button"
        className="btn-danger"
        disabled={a.pending}
        onClick={() =>
          confirm(`Delete ${what}?`) &&
          ("serverId" in target ? server.run(target) : source.run(target as { sourceId: string }))
        }
      >
        Delete
      </button>
    </div>
  );
}

export function AcceptHostKey({
  slug,
  serverId,
  fingerprint,
}: {
  slug: string;
  serverId: string;
  fingerprint: string;
}) {
  const router = useRouter();
  const { run, pending, error } = useAction(acceptHostKeyAction.bind(null, slug), () => router.refresh());
  return (
    <div className="mt-2 space-y-2">
      <FormError error={error} />
      <button type="button" className="btn-secondary" disabled={pending} onClick={() => run({ serverId, fingerprint })}>
        Accept the new fingerprint
      </button>
    </div>
  );
}

export function SourceCard({ slug, source, canEdit }: { slug: string; source: SourceView; canEdit: boolean }) {
  const [editing, setEditing] = useState(false);
  return (
    <div className="card space-y-3" data-testid={`source-${source.name}`}>
      <div className="flex items-start justify-between gap-2">
        <div>
          <p className="font-medium">{source.name}</p>
          <p className="muted text-xs">
            {source.kind === "postgres"
              ? `PostgreSQL ${source.pgDatabase} as ${source.pgUser} at ${source.pgHost}:${source.pgPort}`
              : `Directories: ${(source.paths ?? []).join(", ")}`}
          </p>
        </div>
        <span className="badge">{source.kind === "postgres" ? "PostgreSQL" : "Directories"}</span>
      </div>
      <CheckStatus ok={source.checkOk} message={source.checkMessage} at={source.checkedAt} />
      {canEdit && (
        <div className="flex flex-wrap items-start gap-2">
          <TestButton slug={slug} target={{ sourceId: source.id }} />
          <button type="button" className="btn-secondary" onClick={() => setEditing(!editing)}>
            {editing ? "Close" : "Edit"}
          </button>
          <DeleteButton slug={slug} target={{ sourceId: source.id }} what={`source ${source.name}`} />
        </div>
      )}
      {editing && <SourceForm slug={slug} source={source} onDone={() => setEditing(false)} />}
    </div>
  );
}

export function SourceForm({
  slug,
  serverId,
  source,
  onDone,
}: {
  slug: string;
  serverId?: string;
  source?: SourceView;
  onDone?: () => void;
}) {
  const router = useRouter();
  const [kind, setKind] = useState<"postgres" | "directory">(source?.kind ?? "postgres");
  const [form, setForm] = useState<HTMLFormElement | null>(null);
  const after = () => {
    if (!source) form?.reset(); // only once it worked: a refused source keeps what was typed
    onDone?.();
    router.refresh();
  };
  const create = useAction(createSourceAction.bind(null, slug), after);
  const update = useAction(updateSourceAction.bind(null, slug), after);
  const { pending, error } = source ? update : create;
  return (
    <form
      ref={setForm}
      className="space-y-4"
      onSubmit={(e) => {
        e.preventDefault();
        const f = formFields(e.currentTarget);
        const input =
          kind === "postgres"
            ? {
                kind,
                name: f.name ?? "",
                pgHost: f.pgHost || undefined,
                pgPort: f.pgPort || undefined,
                pgDatabase: f.pgDatabase ?? "",
                pgUser: f.pgUser ?? "",
                pgPassword: f.pgPassword,
                pgSslmode: f.pgSslmode,
                pgRequireScram: f.pgRequireScram === "on",
              }
            : { kind, name: f.name ?? "", paths: f.paths ?? "", excludes: f.excludes ?? "" };
        if (source) update.run({ sourceId: source.id, ...input } as Parameters<typeof update.run>[0]);
        else create.run({ serverId: serverId!, ...input } as Parameters<typeof create.run>[0]);
      }}
    >
      <FormError error={error} />
      {!source && (
        <fieldset className="flex gap-4 text-sm">
          <legend className="label">What</legend>
          <label className="flex items-center gap-2">
            <input type="radio" name="kind" checked={kind === "postgres"} onChange={() => setKind("postgres")} />{" "}
            PostgreSQL database
          </label>
          <label className="flex items-center gap-2">
            <input type="radio" name="kind" checked={kind === "directory"} onChange={() => setKind("directory")} />{" "}
            Directories
          </label>
        </fieldset>
      )}
      <Field label="Source name" name="name" defaultValue={source?.name} required error={error} />
      {kind === "postgres" ? (
        <>
          <div className="grid gap-4 sm:grid-cols-[1fr_7rem]">
            <Field
              label="Database host"
              name="pgHost"
              defaultValue={source?.pgHost ?? "localhost"}
              error={error}
              hint="As seen from the server: pg_dump runs there."
            />
            <Field label="Port" name="pgPort" type="number" defaultValue={source?.pgPort ?? 5432} error={error} />
          </div>
          <div className="grid gap-4 sm:grid-cols-2">
            <Field label="Database" name="pgDatabase" defaultValue={source?.pgDatabase ?? ""} required error={error} />
            <Field label="Database user" name="pgUser" defaultValue={source?.pgUser ?? ""} required error={error} />
          </div>
          <SecretField
            label="Database password"
            name="pgPassword"
            isSet={!!source?.hasPgPassword}
            error={error}
            hint="Leave empty for peer or .pgpass authentication."
          />
          <div>
            <label htmlFor="field-pgSslmode" className="label">
              SSL mode
            </label>
            <select
              id="field-pgSslmode"
              name="pgSslmode"
              className="input"
              defaultValue={source?.pgSslmode ?? "prefer"}
            >
              {sslModes.map((m) => (
                <option key={m}>{m}</option>
              ))}
            </select>
          </div>
          <div>
            <label className="flex items-center gap-2 text-sm">
              <input type="checkbox" name="pgRequireScram" defaultChecked={source?.pgRequireScram ?? true} /> Require
              SCRAM authentication
            </label>
            <p className="muted mt-1 text-xs">
              The password is then sent only through SCRAM (scram-sha-256), which never reveals it: a server that asks
              for it in clear text or as MD5 is refused. Turn off only for servers that use MD5 passwords, or peer,
              trust or certificate authentication. Needs PostgreSQL 16 or later client tools on the server to be
              enforced (older ones ignore it; the Test says which). Changing this, the host, the port or the SSL mode
              asks for the password again.
            </p>
          </div>
        </>
      ) : (
        <>
          <TextArea
            label="Paths"
            name="paths"
            defaultValue={(source?.paths ?? []).join("\n")}
            required
            error={error}
            hint="Absolute paths on the server, one per line."
          />
          <TextArea
            label="Exclude patterns"
            name="excludes"
            defaultValue={(source?.excludes ?? []).join("\n")}
            error={error}
            hint="tar --exclude patterns, one per line (e.g. *.log, node_modules)."
          />
        </>
      )}
      <button className="btn-primary" disabled={pending}>
        {pending ? "Saving…" : source ? "Save source" : "Add source"}
      </button>
    </form>
  );
}
