import { simpleParser } from "mailparser";
import { SMTPServer } from "smtp-server";
import { freePort } from "../ports";

export interface ReceivedMail {
  /** The envelope: who sent it and every recipient the server accepted. */
  from: string;
  to: string[];
  /** The message as it arrived, and as mailparser reads it. */
  data: string;
  subject: string;
  text: string;
  headers: Map<string, unknown>;
}

/**
 * A real SMTP server (the smtp-server package) on 127.0.0.1 that accepts every message and keeps
 * it parsed by mailparser, for mail tests. `refuse` makes it answer 550 to chosen recipients, and
 * `defer` 451 (try again later, as greylisting does); `refuseSender` 553 to a sender address (a
 * MAIL_FROM the server does not let Coffer use).
 */
export async function startSmtp(
  o: {
    refuse?: (address: string) => boolean;
    defer?: (address: string) => boolean;
    refuseSender?: (address: string) => boolean;
  } = {},
) {
  const messages: ReceivedMail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS", "AUTH"],
    logger: false,
    onMailFrom(address, _session, callback) {
      if (o.refuseSender?.(address.address)) {
        const err = Object.assign(new Error(`Sender address rejected: not owned by you`), { responseCode: 553 });
        return callback(err);
      }
      callback();
    },
    onRcptTo(address, _session, callback) {
      if (o.refuse?.(address.address)) {
        const err = Object.assign(new Error(`No such user: ${address.address}`), { responseCode: 550 });
        return callback(err);
      }
      if (o.defer?.(address.address)) {
        const err = Object.assign(new Error("Greylisted, try again later"), { responseCode: 451 });
        return callback(err);
      }
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        const data = Buffer.concat(chunks).toString("utf8");
        simpleParser(data).then(
          (parsed) => {
            messages.push({
              from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
              to: session.envelope.rcptTo.map((r) => r.address),
              data,
              subject: parsed.subject ?? "",
              text: parsed.text ?? "",
              headers: parsed.headers,
            });
            callback();
          },
          (err: Error) => callback(err),
        );
      });
    },
  });
  const port = await freePort();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  return {
    url: `smtp://127.0.0.1:${port}`,
    messages,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
