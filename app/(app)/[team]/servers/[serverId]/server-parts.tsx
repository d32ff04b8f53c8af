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

type SourceKind = SourceView["kind"];

const kindLabels: Record<SourceKind, string> = {
  postgres: "PostgreSQL",
  postgres_cluster: "Every database",
  directory: "Directories",
};

function describeSource(s: SourceView): string {
  const at = `as ${s.pgUser} at ${s.pgHost}:${s.pgPort}`;
  if (s.kind === "postgres") return `PostgreSQL ${s.pgDatabase} ${at}`;
  if (s.kind === "directory") return `Directories: ${(s.paths ?? []).join(", ")}`;
  const except = s.excludes?.length ? ` except ${s.excludes.join(", ")}` : "";
  return `Every database${except}, with roles and tablespaces${s.pgRolePasswords ? " (and password hashes)" : ""}, ${at}`;
}

export function SourceCard({ slug, source, canEdit }: { slug: string; source: SourceView; canEdit: boolean }) {
  const [editing, setEditing] = useState(false);
  return (
    <div className="card space-y-3" data-testid={`source-${source.name}`}>
      <div className="flex items-start justify-between gap-2">
        <div>
          <p className="font-medium">{source.name}</p>
          <p className="muted text-xs">{describeSource(source)}</p>
        </div>
        <span className="badge">{kindLabels[source.kind]}</span>
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
  const [kind, setKind] = useState<SourceKind>(source?.kind ?? "postgres");
  const [form, setForm] = useState<HTMLFormElement | null>(null);
  const after = () => {
    if (!source) {
      // Only once it worked: a refused source keeps what was typed. Resetting puts the radios back
      // on their first choice, so the fields shown follow them there.
      form?.reset();
      setKind("postgres");
    }
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
        const connection = {
          name: f.name ?? "",
          pgHost: f.pgHost || undefined,
          pgPort: f.pgPort || undefined,
          pgDatabase: f.pgDatabase ?? "",
          pgUser: f.pgUser ?? "",
          pgPassword: f.pgPassword,
          pgSslmode: f.pgSslmode,
          pgRequireScram: f.pgRequireScram === "on",
        };
        const input =
          kind === "postgres"
            ? { kind, ...connection }
            : kind === "postgres_cluster"
              ? { kind, ...connection, excludes: f.excludes ?? "", pgRolePasswords: f.pgRolePasswords === "on" }
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
            <input
              type="radio"
              name="kind"
              checked={kind === "postgres_cluster"}
              onChange={() => setKind("postgres_cluster")}
            />{" "}
            Every database on this PostgreSQL
          </label>
          <label className="flex items-center gap-2">
            <input type="radio" name="kind" checked={kind === "directory"} onChange={() => setKind("directory")} />{" "}
            Directories
          </label>
        </fieldset>
      )}
      <Field label="Source name" name="name" defaultValue={source?.name} required error={error} />
      {kind !== "directory" ? (
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
            {kind === "postgres" ? (
              <Field
                label="Database"
                name="pgDatabase"
                defaultValue={source?.pgDatabase ?? ""}
                required
                error={error}
              />
            ) : (
              <Field
                label="Maintenance database"
                name="pgDatabase"
                defaultValue={source?.pgDatabase ?? "postgres"}
                required
                error={error}
                hint="Coffer connects to it to list the databases and read the roles."
              />
            )}
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
          {kind === "postgres_cluster" && (
            <>
              <TextArea
                label="Databases to leave out"
                name="excludes"
                defaultValue={(source?.excludes ?? []).join("\n")}
                error={error}
                hint="One name per line. Every other database is backed up, including ones created later; a name that is not on the server is allowed, and each backup's log lists it."
              />
              <div>
                <label className="flex items-center gap-2 text-sm">
                  <input type="checkbox" name="pgRolePasswords" defaultChecked={source?.pgRolePasswords ?? false} />{" "}
                  Include password hashes
                </label>
                <p className="muted mt-1 text-xs">
                  Each backup holds the roles and tablespaces (postgres/globals.sql), so a restore onto a new PostgreSQL
                  can create the roles first. Without this, the roles come back without passwords: set them again after
                  a restore (ALTER ROLE … PASSWORD). With it, the roles&apos; password hashes (SCRAM or MD5, not the
                  passwords) are stored in the encrypted backup, and the user needs to read pg_authid (a superuser).
                </p>
              </div>
            </>
          )}
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
