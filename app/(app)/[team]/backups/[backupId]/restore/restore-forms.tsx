"use client";
import { useRouter } from "next/navigation";
import { useRef, useState } from "react";
import { Field, FormError, Select } from "@/app/_components/form";
import { checkedValues, useAction } from "@/app/_components/use-action";
import { cancelRestoreAction, restoreDatabaseAction, restoreDirectoryAction, verifyNowAction } from "./actions";

export interface Connection {
  id: string;
  name: string;
  serverId: string;
  serverName: string;
  where: string;
}

/** Choose a server, then one of its PostgreSQL sources: whose connection (host, port, user, password) reaches the target. */
function ConnectionSelect({
  connections,
  name,
  label,
  value,
  onChange,
  optional,
}: {
  connections: Connection[];
  name: string;
  label: string;
  value: string;
  onChange: (v: string) => void;
  optional?: string;
}) {
  const options = connections.map((c) => ({ value: c.id, label: `${c.serverName} › ${c.name} (${c.where})` }));
  return (
    <Select
      label={label}
      name={name}
      value={value}
      onChange={(e) => onChange(e.target.value)}
      options={optional ? [{ value: "", label: optional }, ...options] : options}
    />
  );
}

export function VerifyNowForm({
  slug,
  backupId,
  connections,
}: {
  slug: string;
  backupId: string;
  connections: Connection[];
}) {
  const router = useRouter();
  const [connection, setConnection] = useState("");
  const verify = useAction(verifyNowAction.bind(null, slug), () => router.refresh());
  return (
    <form
      className="space-y-3"
      aria-label="Verify now"
      onSubmit={(e) => {
        e.preventDefault();
        verify.run({ backupId, connectionSourceId: connection || undefined });
      }}
    >
      <FormError error={verify.error} />
      <ConnectionSelect
        connections={connections}
        name="verifyConnection"
        label="Verify on"
        value={connection}
        onChange={setConnection}
        optional="The backup's own server and database connections"
      />
      <button className="btn-primary" disabled={verify.pending}>
        {verify.pending ? "Starting…" : "Verify now"}
      </button>
    </form>
  );
}

export function RestoreDatabaseForm({
  slug,
  backupId,
  dumps,
  connections,
  defaultConnection,
  globals,
}: {
  slug: string;
  backupId: string;
  dumps: { path: string; database: string }[];
  connections: Connection[];
  defaultConnection: string;
  /** The backup's roles and tablespaces (a whole-PostgreSQL backup), if it has them. */
  globals?: { path: string; rolePasswords: boolean };
}) {
  const router = useRouter();
  const [mode, setMode] = useState<"new" | "replace">("new");
  const [connection, setConnection] = useState(defaultConnection);
  const [member, setMember] = useState(dumps[0]?.path ?? "");
  const form = useRef<HTMLFormElement>(null);
  // Started: the form goes back to its defaults (a replace is not left armed), the job shows below.
  const restore = useAction(restoreDatabaseAction.bind(null, slug), () => {
    form.current?.reset();
    setMode("new");
    router.refresh();
  });
  const chosen = connections.find((c) => c.id === connection);
  const dumpName = dumps.find((d) => d.path === member)?.database ?? "";
  return (
    <form
      ref={form}
      className="space-y-3"
      aria-label="Restore a database"
      onSubmit={(e) => {
        e.preventDefault();
        const f = new FormData(e.currentTarget);
        restore.run({
          backupId,
          member,
          serverId: chosen?.serverId ?? "",
          connectionSourceId: connection,
          targetDatabase: String(f.get("targetDatabase") ?? ""),
          mode,
          withGlobals: f.get("withGlobals") === "on",
          confirm: mode === "replace" ? String(f.get("confirm") ?? "") : undefined,
        });
      }}
    >
      <FormError error={restore.error} />
      {dumps.length > 0 ? (
        <Select
          label="Database in the backup"
          name="member"
          value={member}
          onChange={(e) => setMember(e.target.value)}
          options={dumps.map((d) => ({ value: d.path, label: d.database }))}
        />
      ) : (
        <Field
          label="SQL dump inside the archive"
          name="member"
          error={restore.error}
          value={member}
          onChange={(e) => setMember(e.target.value)}
          placeholder="postgres/shop.sql"
          hint="This archive has no Coffer manifest: name the plain SQL file to load."
        />
      )}
      <ConnectionSelect
        connections={connections}
        name="connectionSourceId"
        label="Restore on (server › connection)"
        value={connection}
        onChange={setConnection}
      />
      <fieldset className="space-y-1">
        <legend className="label">Into</legend>
        <label className="flex items-center gap-2 text-sm">
          <input type="radio" name="mode" value="new" checked={mode === "new"} onChange={() => setMode("new")} /> A new
          database (nothing existing is touched)
        </label>
        <label className="flex items-center gap-2 text-sm">
          <input
            type="radio"
            name="mode"
            value="replace"
            checked={mode === "replace"}
            onChange={() => setMode("replace")}
          />{" "}
          Replace an existing database (a safety backup of it is taken first)
        </label>
      </fieldset>
      <Field
        key={mode}
        label={mode === "new" ? "New database name" : "Database to replace"}
        name="targetDatabase"
        error={restore.error}
        defaultValue={mode === "new" ? `${dumpName}_restored` : ""}
        required
      />
      {mode === "replace" && (
        <Field
          label="Type the database name again to confirm"
          name="confirm"
          error={restore.error}
          autoComplete="off"
          required
          hint="Its sessions are disconnected and it is dropped once the backup has loaded completely."
        />
      )}
      {globals && (
        <div>
          <label className="flex items-center gap-2 text-sm">
            <input type="checkbox" name="withGlobals" /> Create roles and tablespaces first
          </label>
          <p className="muted mt-1 text-xs">
            Runs the backup&apos;s {globals.path} on the target PostgreSQL before the database loads, so its owners and
            grants exist (for a new PostgreSQL after losing the old one). Roles that already exist are kept, and the log
            names them.{" "}
            {globals.rolePasswords
              ? "Their password hashes are in the backup and are set too."
              : "The backup holds no password hashes: set the passwords again afterwards."}
          </p>
        </div>
      )}
      <button
        className={mode === "replace" ? "btn-danger" : "btn-primary"}
        disabled={restore.pending || !connection || !member}
      >
        {restore.pending ? "Starting…" : mode === "replace" ? "Replace database" : "Restore database"}
      </button>
    </form>
  );
}

export function RestoreFolderForm({
  slug,
  backupId,
  folders,
  servers,
}: {
  slug: string;
  backupId: string;
  folders: { member: string; label: string }[];
  servers: { id: string; name: string }[];
}) {
  const router = useRouter();
  const form = useRef<HTMLFormElement>(null);
  const restore = useAction(restoreDirectoryAction.bind(null, slug), () => {
    form.current?.reset();
    router.refresh();
  });
  return (
    <form
      ref={form}
      className="space-y-3"
      aria-label="Restore folders"
      onSubmit={(e) => {
        e.preventDefault();
        const f = new FormData(e.currentTarget);
        restore.run({
          backupId,
          members: checkedValues(e.currentTarget, "members"),
          serverId: String(f.get("serverId")),
          targetPath: String(f.get("targetPath") ?? ""),
          mode: f.get("mode") === "overwrite" ? "overwrite" : "fresh",
        });
      }}
    >
      <FormError error={restore.error} />
      <fieldset>
        <legend className="label">Folders</legend>
        {folders.map((o) => (
          <label key={o.member} className="mr-4 inline-flex items-center gap-2 text-sm">
            <input type="checkbox" name="members" value={o.member} defaultChecked /> {o.label}
          </label>
        ))}
      </fieldset>
      <Select label="Server" name="serverId" options={servers.map((s) => ({ value: s.id, label: s.name }))} />
      <Field
        label="Restore under"
        name="targetPath"
        error={restore.error}
        placeholder="/srv/restored"
        required
        hint="Files keep their full original path under this folder: /var/www/index.html restores to <folder>/var/www/index.html. Choose / with Overwrite to put them back where they were."
      />
      <fieldset className="space-y-1">
        <legend className="label">Mode</legend>
        <label className="flex items-center gap-2 text-sm">
          <input type="radio" name="mode" value="fresh" defaultChecked /> A new folder (it must not exist yet)
        </label>
        <label className="flex items-center gap-2 text-sm">
          <input type="radio" name="mode" value="overwrite" /> Overwrite files in an existing folder (others are kept)
        </label>
      </fieldset>
      <button className="btn-primary" disabled={restore.pending}>
        {restore.pending ? "Starting…" : "Restore folders"}
      </button>
    </form>
  );
}

export function CancelRestoreButton({ slug, restoreId }: { slug: string; restoreId: string }) {
  const router = useRouter();
  const cancel = useAction(cancelRestoreAction.bind(null, slug), () => router.refresh());
  return (
    <span>
      <button
        type="button"
        className="btn-secondary"
        disabled={cancel.pending}
        onClick={() => cancel.run({ restoreId })}
      >
        Cancel
      </button>
      <FormError error={cancel.error} />
    </span>
  );
}
