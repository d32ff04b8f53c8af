"use client";
import Link from "next/link";

/**
 * A page that failed on Coffer's side (its database out of reach, a fault): what happened, a way
 * to try again, and the reference that finds the error in the server log (the message itself
 * stays there, as it may name internals).
 */
export default function PageError({ error, retry }: { error: Error & { digest?: string }; retry: () => void }) {
  return (
    <main className="mx-auto max-w-md px-6 py-24 text-center">
      <p className="text-sm font-semibold text-red-600 dark:text-red-400">Error</p>
      <h1 className="mt-2 text-2xl font-semibold">This page could not be shown</h1>
      <p className="muted mt-2">
        Coffer ran into a problem on its side. Try again in a moment; if it keeps happening, tell whoever runs this
        Coffer{error.digest ? " and give them this reference, which finds the error in its server log" : ""}.
      </p>
      {error.digest && (
        <p className="mt-3">
          <code data-testid="error-reference" className="rounded bg-zinc-100 px-2 py-1 text-sm dark:bg-zinc-800">
            {error.digest}
          </code>
        </p>
      )}
      <div className="mt-6 flex justify-center gap-3">
        <button className="btn-primary" onClick={retry}>
          Try again
        </button>
        <Link href="/" className="btn-secondary">
          Go to your team
        </Link>
      </div>
    </main>
  );
}
