import type { Metadata } from "next";
import { ResetPasswordForm } from "./reset-password-form";

export const metadata: Metadata = { title: "Choose a new password" };

// Nothing happens on opening the link (mail scanners open links too): the form sets the password.
export default async function ResetPasswordPage({ params }: { params: Promise<{ token: string }> }) {
  const { token } = await params;
  return (
    <div className="space-y-4">
      <h1 className="text-xl font-semibold">Choose a new password</h1>
      <p className="muted">Every session of the account is signed out; sign in again with the new password.</p>
      <ResetPasswordForm token={token} />
    </div>
  );
}
