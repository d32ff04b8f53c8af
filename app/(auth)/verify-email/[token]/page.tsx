import type { Metadata } from "next";
import { ConfirmEmail } from "./confirm-email";

export const metadata: Metadata = { title: "Confirm your e-mail address" };

// Nothing happens on opening the link (mail scanners open links too): the button confirms.
export default async function VerifyEmailPage({ params }: { params: Promise<{ token: string }> }) {
  const { token } = await params;
  return (
    <div className="space-y-4">
      <h1 className="text-xl font-semibold">Confirm your e-mail address</h1>
      <p className="muted">Confirming lets you join the teams you are invited to and receive notifications.</p>
      <ConfirmEmail token={token} />
    </div>
  );
}
