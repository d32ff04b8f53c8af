"use client";
import { useRouter } from "next/navigation";
import { useState } from "react";
import { Field, FormError } from "@/app/_components/form";
import { SecretField } from "@/app/_components/secret-field";
import { formFields, useAction } from "@/app/_components/use-action";
import type { ServerView } from "@/lib/servers/queries";
import { createServerAction, updateServerAction } from "./actions";

type Kind = "ssh" | "local";

export function ServerForm({ slug, server, allowLocal }: { slug: string; server?: ServerView; allowLocal: boolean }) {
  const router = useRouter();
  const [kind, setKind] = useState<Kind>(server?.kind ?? "ssh");
  const [auth, setAuth] = useState<"key" | "password">(server?.hasPassword ? "password" : "key");
  const done = ({ id }: { id: string }) => {
    router.push(`/${slug}/servers/${id}`);
    router.refresh();
  };
  const create = useAction(createServerAction.bind(null, slug), done);
  const update = useAction(updateServerAction.bind(null, slug), done);
  const { pending, error } = server ? update : create;
  return (
    <form
      className="space-y-4"
      onSubmit={(e) => {
        e.preventDefault();
        const f = formFields(e.currentTarget);
        const input =
          kind === "local"
            ? { kind, name: f.name ?? "", workDir: f.workDir || undefined }
            : {
                kind,
                name: f.name ?? "",
                host: f.host ?? "",
                port: f.port || undefined,
                username: f.username ?? "",
                authMethod: auth,
                privateKey: f.privateKey,
                passphrase: f.passphrase,
                password: f.password,
                workDir: f.workDir || undefined,
              };
        if (server) update.run({ serverId: server.id, ...input } as Parameters<typeof update.run>[0]);
        else create.run(input as Parameters<typeof create.run>[0]);
      }}
    >
      <FormError error={error} />
      {!server && (
        <fieldset className="flex flex-wrap gap-4 text-sm">
          <legend className="label">Reach it</legend>
          <label className="flex items-center gap-2">
            <input type="radio" name="kind" checked={kind === "ssh"} onChange={() => setKind("ssh")} /> Over SSH
          </label>
          <label className={`flex items-center gap-2 ${allowLocal ? "" : "opacity-50"}`}>
            <input
              type="radio"
              name="kind"
              disabled={!allowLocal}
              checked={kind === "local"}
              onChange={() => setKind("local")}
            />{" "}
            This Coffer host
            {!allowLocal && <span className="muted text-xs">(disabled by the operator)</span>}
          </label>
        </fieldset>
      )}
      <Field label="Name" name="name" defaultValue={server?.name} placeholder="db-primary" required error={error} />
      {kind === "ssh" && (
        <>
          <div className="grid gap-4 sm:grid-cols-[1fr_7rem]">
            <Field
              label="Host"
              name="host"
              defaultValue={server?.host ?? ""}
              placeholder="db1.example.com"
              required
              error={error}
            />
            <Field
              label="Port"
              name="port"
              type="number"
              defaultValue={server?.port ?? 22}
              min={1}
              max={65535}
              error={error}
            />
          </div>
          <Field
            label="SSH user"
            name="username"
            defaultValue={server?.username ?? ""}
            placeholder="backup"
            required
            error={error}
          />
          <fieldset className="flex gap-4 text-sm">
            <legend className="label">Authentication</legend>
            <label className="flex items-center gap-2">
              <input type="radio" name="authMethod" checked={auth === "key"} onChange={() => setAuth("key")} /> Private
              key
            </label>
            <label className="flex items-center gap-2">
              <input
                type="radio"
                name="authMethod"
                checked={auth === "password"}
                onChange={() => setAuth("password")}
              />{" "}
              Password
            </label>
          </fieldset>
          {auth === "key" ? (
            <>
              <SecretField
                label="Private key"
                name="privateKey"
                multiline
                isSet={!!server?.hasPrivateKey}
                error={error}
                hint="OpenSSH or PEM format. Stored encrypted; never shown again."
              />
              <SecretField
                label="Key passphrase (if any)"
                name="passphrase"
                isSet={!!server?.hasPassphrase}
                error={error}
              />
            </>
          ) : (
            <SecretField
              label="Password"
              name="password"
              isSet={!!server?.hasPassword}
              error={error}
              hint="Stored encrypted; never shown again."
            />
          )}
        </>
      )}
      <Field
        label="Work folder"
        name="workDir"
        defaultValue={server?.workDir ?? "/var/tmp"}
        error={error}
        hint="Where a backup's temporary files go on the server (a private folder is made inside it and removed after every run)."
      />
      <button className="btn-primary" disabled={pending}>
        {pending ? "Saving…" : server ? "Save changes" : "Add server"}
      </button>
    </form>
  );
}
