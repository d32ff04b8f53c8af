"use client";
import { useRouter } from "next/navigation";
import { FormError } from "@/app/_components/form";
import { useAction } from "@/app/_components/use-action";
import { acceptInvitationAction } from "../../actions";

export function AcceptInvitation({ token }: { token: string }) {
  const router = useRouter();
  const { run, pending, error } = useAction(acceptInvitationAction, ({ teamSlug }) => router.push(`/${teamSlug}`));
  return (
    <div className="space-y-3">
      <FormError error={error} />
      <button className="btn-primary w-full" disabled={pending} onClick={() => run({ token })}>
        {pending ? "Joining…" : "Accept invitation"}
      </button>
    </div>
  );
}
