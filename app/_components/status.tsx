/** The outcome of the last "Test", as a small badge with its message. */
export function CheckStatus({ ok, message, at }: { ok: boolean | null; message: string | null; at: Date | null }) {
  if (ok === null || !at) return <span className="badge">Not tested</span>;
  return (
    <span className="inline-flex flex-col gap-0.5">
      <span
        className={`badge w-fit ${ok ? "bg-emerald-100 text-emerald-800 dark:bg-emerald-950 dark:text-emerald-300" : "bg-red-100 text-red-800 dark:bg-red-950 dark:text-red-300"}`}
      >
        {ok ? "OK" : "Failed"}
      </span>
      {message && <span className="muted text-xs">{message}</span>}
    </span>
  );
}
