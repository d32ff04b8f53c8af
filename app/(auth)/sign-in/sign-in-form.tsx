"use client";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { Field, FormError } from "@/app/_components/form";
import { formFields, useAction } from "@/app/_components/use-action";
import { safeNextPath } from "@/lib/auth/schemas";
import { oauthSignInAction, signInAction } from "../actions";

export function SignInForm({
  next,
  providers,
  providerError,
}: {
  next: string;
  providers: { id: string; name: string }[];
  providerError?: string;
}) {
  const router = useRouter();
  const safe = safeNextPath(next);
  const { run, pending, error } = useAction(signInAction, () => {
    router.replace(safe);
    router.refresh();
  });
  return (
    <div className="space-y-5">
      <h1 className="text-xl font-semibold">Sign in</h1>
      <form
        className="space-y-4"
        onSubmit={(e) => {
          e.preventDefault();
          const f = formFields(e.currentTarget);
          run({ email: f.email ?? "", password: f.password ?? "" });
        }}
      >
        <FormError error={error ?? (providerError ? { code: "UNAUTHENTICATED", message: providerError } : null)} />
        <Field label="E-mail" name="email" type="email" autoComplete="email" required error={error} />
        <Field
          label="Password"
          name="password"
          type="password"
          autoComplete="current-password"
          required
          error={error}
        />
        <button className="btn-primary w-full" disabled={pending}>
          {pending ? "Signing in…" : "Sign in"}
        </button>
        <p className="muted text-center">
          <Link className="hover:underline" href="/forgot-password">
            Forgot your password?
          </Link>
        </p>
      </form>
      {providers.length > 0 && (
        <div className="space-y-2 border-t border-zinc-200 pt-4 dark:border-zinc-800">
          {providers.map((p) => (
            <form key={p.id} action={oauthSignInAction.bind(null, p.id as "github" | "google", safe)}>
              <button className="btn-secondary w-full">Continue with {p.name}</button>
            </form>
          ))}
        </div>
      )}
      <p className="muted text-center">
        New to Coffer?{" "}
        <Link
          className="font-medium text-indigo-600 hover:underline dark:text-indigo-400"
          href={`/sign-up${next !== "/" ? `?next=${encodeURIComponent(next)}` : ""}`}
        >
          Create an account
        </Link>
      </p>
    </div>
  );
}
