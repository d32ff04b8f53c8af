"use client";
import { useRouter } from "next/navigation";
import { useState } from "react";
import { FormError } from "@/app/_components/form";
import { useAction } from "@/app/_components/use-action";
import { addTeamKeyAction, removeTeamKeyAction } from "../actions";

/** Paste an armored public key, or choose a key file (armored or binary: sent as base64). */
export function AddTeamKeyForm({ slug }: { slug: string }) {
  const router = useRouter();
  const [key, setKey] = useState("");
  const add = useAction(addTeamKeyAction.bind(null, slug), () => {
    setKey("");
    router.refresh();
  });
  return (
    <form
      className="space-y-3"
      aria-label="Add an OpenPGP key"
      onSubmit={(e) => {
        e.preventDefault();
        add.run({ key });
      }}
    >
      <FormError error={add.error} />
      <label htmlFor="openpgp-key" className="label">
        Public key
      </label>
      <textarea
        id="openpgp-key"
        name="key"
        className="input h-32 font-mono text-xs"
        placeholder="-----BEGIN PGP PUBLIC KEY BLOCK-----"
        value={key}
        onChange={(e) => setKey(e.target.value)}
      />
      <input
        type="file"
        aria-label="Key file"
        accept=".asc,.gpg,.pgp,.pub,application/pgp-keys"
        className="text-sm"
        onChange={async (e) => {
          const file = e.target.files?.[0];
          if (!file) return;
          const bytes = new Uint8Array(await file.arrayBuffer());
          const text = new TextDecoder().decode(bytes);
          // Spreading a large file's bytes into fromCharCode would overflow the call stack.
          setKey(
            text.includes("-----BEGIN PGP") ? text : btoa(Array.from(bytes, (b) => String.fromCharCode(b)).join("")),
          );
        }}
      />
      <button className="btn-primary" disabled={add.pending || !key.trim()}>
        {add.pending ? "Adding…" : "Add key"}
      </button>
    </form>
  );
}

export function RemoveTeamKey({ slug, keyId, fingerprint }: { slug: string; keyId: string; fingerprint: string }) {
  const router = useRouter();
  const remove = useAction(removeTeamKeyAction.bind(null, slug), () => router.refresh());
  return (
    <>
      <FormError error={remove.error} />
      <button
        type="button"
        className="btn-secondary"
        disabled={remove.pending}
        onClick={() =>
          confirm(`Remove key ${fingerprint}? Backups made from now on are no longer encrypted to it.`) &&
          remove.run({ keyId })
        }
      >
        Remove
      </button>
    </>
  );
}
