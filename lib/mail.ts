import "server-only";
import { env } from "./env";

/** Sends a plain-text e-mail when SMTP_URL is configured; returns false when there is no SMTP. */
export async function sendMail(message: { to: string; subject: string; text: string }): Promise<boolean> {
  const e = env();
  if (!e.SMTP_URL) return false;
  const { createTransport } = await import("nodemailer");
  await createTransport(e.SMTP_URL).sendMail({ from: e.MAIL_FROM, ...message });
  return true;
}
