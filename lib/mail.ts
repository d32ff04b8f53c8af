import "server-only";
import { env } from "./env";

/** Sends a plain-text e-mail when SMTP_URL is configured; returns false when there is no SMTP. */
export async function sendMail(message: { to: string; subject: string; text: string }): Promise<boolean> {
  return (await sendMailEach([message.to], message)) !== null;
}

const CONNECT_TIMEOUT_MS = 10_000;

export interface MailReport {
  /** Recipients the server accepted, and those it refused (with its answer). */
  accepted: string[];
  refused: { to: string; response: string }[];
  /** The server's answer to the last message. */
  response: string;
}

/**
 * Sends the same message to each recipient on its own (nobody sees the other addresses). Null when SMTP_URL is not configured. Throws when the server cannot be reached
 * before any message went out; a recipient the server refuses is reported, not thrown.
 */
export async function sendMailEach(
  to: string[],
  message: { subject: string; text: string },
): Promise<MailReport | null> {
  const e = env();
  if (!e.SMTP_URL) return null;
  const { createTransport } = await import("nodemailer");
  const { parseConnectionUrl } = await import("nodemailer/lib/shared");
  // nodemailer waits 2 minutes to connect and 10 minutes on a quiet socket by default: a mail
  // server that stops answering would hold a notification channel that long per recipient. The
  // socket gets a minute, since a server may scan a message before it answers; SMTP_URL's own
  // ?connectionTimeout= and the like still win.
  const transport = createTransport({
    connectionTimeout: CONNECT_TIMEOUT_MS,
    greetingTimeout: CONNECT_TIMEOUT_MS,
    socketTimeout: 60_000,
    ...parseConnectionUrl(e.SMTP_URL),
  });
  const report: MailReport = { accepted: [], refused: [], response: "" };
  try {
    for (const address of to) {
      try {
        const info = await transport.sendMail({ from: e.MAIL_FROM, to: address, ...message });
        report.accepted.push(address);
        report.response = info.response;
      } catch (err) {
        const { responseCode, response } = err as { responseCode?: number; response?: string };
        // A recipient the server refuses for good (5xx) is reported and the others still get it. No
        // answer at all, or a temporary refusal before anything went out, is thrown: the delivery is retried.
        const nothingSentYet = report.accepted.length + report.refused.length === 0;
        if (!responseCode || (responseCode < 500 && nothingSentYet)) throw err;
        report.refused.push({ to: address, response: response ?? String(responseCode) });
      }
    }
  } finally {
    transport.close();
  }
  return report;
}
