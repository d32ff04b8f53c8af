import { createServer, type IncomingHttpHeaders, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { Webhook } from "standardwebhooks";
import { freePort } from "../ports";

export interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}

/** How a path answers: a status (and body), after a delay; or it hangs, resets, sends 10 MB, or redirects. */
export type Behaviour =
  | { status: number; body?: string; delayMs?: number }
  | { hang: true }
  | { reset: true }
  | { big: number }
  | { redirect: string };

/**
 * A webhook receiver on 127.0.0.1 for tests: records every request (headers and raw body) and
 * answers each path as told (a list is used in order, its last entry from then on). `verify`
 * checks a request's signature with the standardwebhooks library's own verifier.
 */
export async function startReceiver(o: { port?: number } = {}) {
  const received: Received[] = [];
  const plans = new Map<string, Behaviour[]>();
  const sockets = new Set<Socket>();
  const answer = (res: ServerResponse, b: Behaviour, socket: Socket) => {
    if ("hang" in b) return;
    if ("reset" in b) return socket.resetAndDestroy();
    if ("redirect" in b) return res.writeHead(302, { location: b.redirect }).end();
    if ("big" in b) {
      res.writeHead(200, { "content-type": "text/plain" });
      const chunk = Buffer.alloc(64 * 1024, "x");
      let left = b.big;
      const write = () => {
        while (left > 0) {
          left -= chunk.length;
          if (!res.write(chunk)) return void res.once("drain", write);
        }
        res.end();
      };
      res.on("error", () => {});
      return write();
    }
    const send = () => res.writeHead(b.status, { "content-type": "text/plain" }).end(b.body ?? "");
    if (b.delayMs) setTimeout(send, b.delayMs);
    else send();
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const path = req.url ?? "/";
      received.push({ path, headers: req.headers, body: Buffer.concat(chunks).toString("utf8"), at: Date.now() });
      const plan = plans.get(path) ?? [{ status: 200, body: "ok" }];
      answer(res, plan.length > 1 ? plan.shift()! : plan[0]!, req.socket);
    });
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  const port = o.port ?? (await freePort());
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return {
    port,
    url: (path: string) => `http://127.0.0.1:${port}${path}`,
    received,
    /** Requests to one path. */
    at: (path: string) => received.filter((r) => r.path === path),
    on(path: string, ...behaviours: Behaviour[]) {
      plans.set(path, behaviours);
    },
    /** Whether `secret` signed this request (the library's verifier: signature and timestamp tolerance). */
    verify(secret: string, r: Received): boolean {
      try {
        new Webhook(secret).verify(r.body, r.headers as Record<string, string>);
        return true;
      } catch {
        return false;
      }
    },
    /** Cuts every open connection (ends what hangs). */
    dropConnections() {
      for (const s of sockets) s.destroy();
    },
    stop: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
export type Receiver = Awaited<ReturnType<typeof startReceiver>>;
