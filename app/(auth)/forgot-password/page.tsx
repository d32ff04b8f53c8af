import type { Metadata } from "next";
import { ForgotPasswordForm } from "./forgot-password-form";

export const metadata: Metadata = { title: "Reset your password" };

export default function ForgotPasswordPage() {
  return (
    <div className="space-y-4">
      <h1 className="text-xl font-semibold">Reset your password</h1>
      <p className="muted">Coffer e-mails a link to choose a new password. It works once, for an hour.</p>
      <ForgotPasswordForm />
    </div>
  );
}
