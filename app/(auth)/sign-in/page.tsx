import type { Metadata } from "next";
import { oauthProviders } from "@/lib/auth/next-auth";
import { SignInForm } from "./sign-in-form";

export const metadata: Metadata = { title: "Sign in" };

export default async function SignInPage({ searchParams }: { searchParams: Promise<{ next?: string }> }) {
  const { next } = await searchParams;
  return <SignInForm next={next ?? "/"} providers={oauthProviders()} />;
}
