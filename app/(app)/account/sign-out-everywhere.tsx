"use client";
import { useRouter } from "next/navigation";
import { FormError } from "@/app/_components/form";
import { useAction } from "@/app/_components/use-action";
import { signOutEverywhereAction } from "@/app/(auth)/actions";

export function SignOutEverywhere() {
  const router = useRouter();
  const { run, pending, error } = useAction(signOutEverywhereAction, () => router.replace("/sign-in"));
  return (
    <div className="space-y-2">
      <FormError error={error} />
      <button className="btn-danger" disabled={pending} onClick={() => run({})}>
        Sign out everywhere
      </button>
      <p className="muted text-xs">Ends every session of your account, on every device, this one included.</p>
    </div>
  );
}
