"use client";
import { useRouter } from "next/navigation";
import { useAction } from "@/app/_components/use-action";
import { redeliverAction } from "../actions";

/** Sends the same event (same webhook-id) to the channel again, as a new delivery. */
export function RedeliverButton({ slug, deliveryId }: { slug: string; deliveryId: string }) {
  const router = useRouter();
  const { run, pending, error } = useAction(redeliverAction.bind(null, slug), () => {
    router.refresh();
    // The delivery runs in the background: look again once it had time to answer.
    setTimeout(() => router.refresh(), 1500);
  });
  return (
    <span>
      <button
        type="button"
        className="btn-secondary px-2 py-1 text-xs"
        disabled={pending}
        onClick={() => run({ deliveryId })}
      >
        {pending ? "Queuing…" : "Redeliver"}
      </button>
      {error && <span className="block text-xs text-red-700 dark:text-red-400">{error.message}</span>}
    </span>
  );
}
