// Receivers for bench/webhooks.mts, in a process of their own: `n` endpoints that answer 200 at
// once and one "dead" endpoint that accepts connections and never answers. Prints the ports as
// JSON; GET /count on the control port answers how many requests each endpoint got.
import { createServer } from "node:http";

const n = Number(process.argv[2] ?? 19);
const listen = (server) =>
  new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server.address().port)));
const counts = [];
const ports = [];
for (let i = 0; i < n; i++) {
  counts.push(0);
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      counts[i]++;
      res.writeHead(200, { "content-type": "text/plain" }).end("ok");
    });
  });
  ports.push(await listen(server));
}
const dead = await listen(createServer(() => {}));
const control = await listen(
  createServer((_req, res) => res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(counts))),
);
process.stdout.write(`${JSON.stringify({ ports, dead, control })}\n`);
