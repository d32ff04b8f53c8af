import { connect, createServer, type Socket } from "node:net";

export interface ProxyOptions {
  /** Cuts a connection once this many bytes went through it (either way); `cuts` connections in all. */
  cutAfterBytes?: number;
  /** How many connections are cut, the first ones to reach `cutAfterBytes` (default: every one). */
  cuts?: number;
  /** Caps the rate of each connection, in both directions. */
  bytesPerSecond?: number;
}

export interface TestProxy {
  host: "127.0.0.1";
  port: number;
  /** Connections accepted so far. */
  connections: number;
  /** Connections cut so far (cutAfterBytes). */
  cut: number;
  stop(): Promise<void>;
}

/**
 * A TCP proxy on 127.0.0.1 in front of a real server, to make a network fail part-way (a cut
 * connection) or run slowly, the way real networks do.
 */
export async function startProxy(target: { host: string; port: number }, opts: ProxyOptions = {}): Promise<TestProxy> {
  const sockets = new Set<Socket>();
  let cutsLeft = opts.cuts ?? Infinity;
  const proxy: TestProxy = { host: "127.0.0.1", port: 0, connections: 0, cut: 0, stop: async () => {} };
  const server = createServer((client) => {
    proxy.connections++;
    const upstream = connect(target.port, target.host);
    sockets.add(client).add(upstream);
    let moved = 0;
    const relay = (from: Socket, to: Socket) => {
      from.on("data", (chunk: Buffer) => {
        moved += chunk.length;
        if (client.destroyed) return;
        if (opts.cutAfterBytes !== undefined && moved > opts.cutAfterBytes && cutsLeft > 0) {
          cutsLeft--;
          proxy.cut++;
          client.destroy();
          upstream.destroy();
          return;
        }
        if (!to.write(chunk)) from.pause();
        if (opts.bytesPerSecond) {
          from.pause();
          setTimeout(() => to.writableNeedDrain || from.resume(), (chunk.length / opts.bytesPerSecond) * 1000);
        }
      });
      to.on("drain", () => from.resume());
      from.on("end", () => to.end());
      from.on("error", () => to.destroy());
      from.on("close", () => {
        to.destroy();
        sockets.delete(from);
      });
    };
    relay(client, upstream);
    relay(upstream, client);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  proxy.port = (server.address() as { port: number }).port;
  proxy.stop = async () => {
    for (const s of sockets) s.destroy();
    await new Promise((r) => server.close(r));
  };
  return proxy;
}
