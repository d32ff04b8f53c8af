import type { Metadata } from "next";
import { redirect } from "next/navigation";
import { oauthProviders } from "@/lib/auth/next-auth";
import { safeNextPath } from "@/lib/auth/schemas";
import { currentUser } from "@/lib/auth/session";
import { SignInForm } from "./sign-in-form";

export const metadata: Metadata = { title: "Sign in" };

// Auth.js sends failed GitHub / Google sign-ins back here with ?error=<type>.
const providerErrors: Record<string, string> = {
  AccessDenied:
    "That GitHub or Google account cannot sign in here: its e-mail address (on GitHub, the primary one) is not verified, or an account with that address already exists (sign in with your password, or reset it with Forgot your password?).",
  OAuthAccountNotLinked:
    "An account with that e-mail address already exists. Sign in with your password, or reset it with Forgot your password?",
};

export default async function SignInPage({
  searchParams,
}: {
  searchParams: Promise<{ next?: string; error?: string }>;
}) {
  const { next, error } = await searchParams;
  if (await currentUser()) redirect(safeNextPath(next));
  const message = error
    ? (providerErrors[error] ??
      "Signing in with that provider failed. Try again, or sign in with your e-mail and password.")
    : undefined;
  return <SignInForm next={next ?? "/"} providers={oauthProviders()} providerError={message} />;
}
