"use client";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { Field, FormError } from "@/app/_components/form";
import { formFields, useAction } from "@/app/_components/use-action";
import { safeNextPath } from "@/lib/auth/schemas";
import { signUpAction } from "../actions";

export function SignUpForm({ next, email }: { next?: string; email?: string }) {
  const router = useRouter();
  const { run, pending, error } = useAction(signUpAction, ({ teamSlug }) => {
    router.replace(next ? safeNextPath(next) : `/${teamSlug}`);
    router.refresh();
  });
  return (
    <div className="space-y-5">
      <h1 className="text-xl font-semibold">Create your account</h1>
      <form
        className="space-y-4"
        onSubmit={(e) => {
          e.preventDefault();
          const f = formFields(e.currentTarget);
          run({
            name: f.name ?? "",
            email: f.email ?? "",
            password: f.password ?? "",
            teamName: f.teamName || undefined,
          });
        }}
      >
        <FormError error={error} />
        <Field label="Your name" name="name" autoComplete="name" required error={error} />
        <Field
          label="E-mail"
          name="email"
          type="email"
          autoComplete="email"
          defaultValue={email}
          required
          error={error}
        />
        <Field
          label="Password"
          name="password"
          type="password"
          autoComplete="new-password"
          required
          minLength={10}
          hint="At least 10 characters."
          error={error}
        />
        {!next && (
          <Field
            label="Team name"
            name="teamName"
            placeholder="Acme Ops"
            hint="You can rename it and create more teams later."
            error={error}
          />
        )}
        <button className="btn-primary w-full" disabled={pending}>
          {pending ? "Creating…" : "Create account"}
        </button>
      </form>
      <p className="muted text-center">
        Already have an account?{" "}
        <Link
          className="font-medium text-indigo-600 hover:underline dark:text-indigo-400"
          href={`/sign-in${next ? `?next=${encodeURIComponent(next)}` : ""}`}
        >
          Sign in
        </Link>
      </p>
    </div>
  );
}
