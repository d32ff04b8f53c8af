import "server-only";
import { env } from "./env";

/** What became of one message: sent, or why not, in words for the person who asked for it. */
export type MailOutcome = { sent: true } | { sent: false; why: string };

/** Sends a plain-text e-mail to one address when SMTP_URL is configured. */
export async function sendMail(message: { to: string; subject: string; text: string }): Promise<MailOutcome> {
  let report: MailReport | null;
  try {
    report = await sendMailEach([message.to], message);
  } catch (err) {
    // Only a temporary refusal, a refused login or sender, or no answer at all gets here.
    return { sent: false, why: notSentBecause(err) };
  }
  if (!report) return { sent: false, why: "e-mail is not configured on this Coffer" };
  if (report.accepted.length) return { sent: true };
  return { sent: false, why: `the mail server refused it (${report.refused[0]?.response ?? "no answer"})` };
}

/** What nodemailer's errors carry: the server's answer, and the command it answered. */
type SmtpError = { code?: string; responseCode?: number; response?: string; command?: string };

/** Why a message did not go, in words for whoever sees it, from what `sendMailEach` threw. */
export function notSentBecause(err: unknown): string {
  const { code, responseCode, response, command } = err as SmtpError;
  if (!response) return `the mail server could not be reached (${code ?? "no answer"})`;
  if (command === "RCPT TO" || command === "DATA" || !responseCode || responseCode < 500)
    return `the mail server did not take it for now (${response})`;
  const what = command?.startsWith("AUTH")
    ? "login"
    : command === "MAIL FROM"
      ? "sender address (MAIL_FROM)"
      : "connection";
  return `the mail server refused Coffer's ${what} (${response}): the operator checks SMTP_URL and MAIL_FROM`;
}

const CONNECT_TIMEOUT_MS = 10_000;

export interface MailReport {
  /** Recipients the server accepted, and those it refused for good (with its answer). */
  accepted: string[];
  refused: { to: string; response: string }[];
  /**
   * Recipients not reached for now: refused for the time being (a 4xx, such as greylisting), or
   * left when the server stopped answering. Worth trying again, for them only.
   */
  deferred: { to: string; response: string }[];
  /** The server's answer to the last message. */
  response: string;
}

/**
 * Sends the same message to each recipient on its own (nobody sees the other addresses). Null when
 * SMTP_URL is not configured. Throws when no recipient got an answer for good (nothing to report
 * but a server out of reach, or only temporary refusals); otherwise reports who was accepted,
 * refused and deferred.
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
  const report: MailReport = { accepted: [], refused: [], deferred: [], response: "" };
  if (!to.length) return report;
  let firstError: unknown;
  try {
    for (const [i, address] of to.entries()) {
      try {
        const info = await transport.sendMail({ from: e.MAIL_FROM, to: address, ...message });
        report.accepted.push(address);
        report.response = info.response;
      } catch (err) {
        firstError ??= err;
        const { responseCode, response, command } = err as SmtpError;
        const answer = response ?? (responseCode ? String(responseCode) : "no answer");
        // Only an answer to this recipient or its message judges it; a refused login or sender
        // address is Coffer's setup, which the operator can fix before a retry.
        const aboutRecipient = command === "RCPT TO" || command === "DATA";
        if (aboutRecipient && responseCode && responseCode >= 500)
          report.refused.push({ to: address, response: answer });
        else if (aboutRecipient && responseCode) report.deferred.push({ to: address, response: answer });
        else {
          // No answer about the recipients: the others would only get the same.
          report.deferred.push(...to.slice(i).map((a) => ({ to: a, response: answer })));
          break;
        }
      }
    }
  } finally {
    transport.close();
  }
  if (!report.accepted.length && !report.refused.length) throw firstError;
  return report;
}
