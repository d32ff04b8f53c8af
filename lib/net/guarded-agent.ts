import "server-only";
import { Agent as HttpAgent, type AgentOptions, type ClientRequestArgs } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import type { Socket } from "node:net";
import type { Duplex, Readable } from "node:stream";
import { guardedLookup, literalRefusal } from "./address-guard";

/**
 * http(s) agents whose every socket goes through the address guard: names resolve through
 * `guardedLookup` (the socket connects to the address that was checked, so DNS rebinding cannot
 * redirect it) and IP literals are checked before connecting. Every hop of a redirect opens its
 * sockets here too, so a redirect into a private network is refused like a direct request. A
 * refused address is never connected to: the caller learns only that it is not allowed, never
 * whether a port there is open, closed or silent.
 */
export interface GuardedAgents {
  http: HttpAgent;
  https: HttpsAgent;
}

type Callback = (err: Error | null, stream: Duplex) => void;
type Connect = (options: ClientRequestArgs, callback?: Callback) => Duplex | null | undefined;

/**
 * How long a socket may go without a byte either way before it is destroyed (ETIMEDOUT, which the
 * SDKs retry). Azure's and Google's clients set no such limit of their own, so an endpoint that
 * stops answering mid-request would hold a backup or restore, still heartbeating, forever.
 */
const SOCKET_IDLE_MS = 300_000;

/** Checks a literal address, and has names resolved through the guard, before `connect` opens the socket. */
function guardedConnect(connect: Connect, allowPrivate: boolean, idleMs: number): Connect {
  const lookup = guardedLookup(allowPrivate);
  return (options, callback) => {
    const refusal = literalRefusal(options.host ?? options.hostname, allowPrivate);
    if (refusal) {
      process.nextTick(() => callback?.(refusal, undefined as unknown as Duplex));
      return undefined;
    }
    const socket = connect({ ...options, lookup }, callback);
    if (socket) idleLimit(socket as Socket, idleMs);
    return socket;
  };
}

const limited = new WeakSet<Socket>();

/**
 * Destroys the socket after `idleMs` without traffic, unless Coffer itself stopped reading (a
 * restore waiting for psql, a paused download): the wait is then ours, not the service's. Armed
 * again on every request the socket carries: Node sets a socket's timeout to the agent's (none)
 * when it goes back to the pool.
 */
/** The response on this socket holds bytes Coffer has not read yet: the service did answer. */
function unreadResponse(socket: Socket): boolean {
  const res = (socket as Socket & { _httpMessage?: { res?: Readable } })._httpMessage?.res;
  return !!res && res.readableLength > 0;
}

function idleLimit(socket: Socket, idleMs: number) {
  if (!limited.has(socket)) {
    limited.add(socket);
    socket.on("timeout", () => {
      if (unreadResponse(socket)) return socket.setTimeout(idleMs);
      const err = new Error(`Nothing came or went on the connection to the storage service for ${idleMs / 1000} s.`);
      socket.destroy(Object.assign(err, { code: "ETIMEDOUT" }));
    });
  }
  socket.setTimeout(idleMs);
}

/** A pair of keep-alive agents whose sockets go through the guard and are dropped after `idleMs` idle. */
export function makeGuardedAgents(allowPrivate: boolean, idleMs = SOCKET_IDLE_MS): GuardedAgents {
  const options: AgentOptions = { keepAlive: true, maxSockets: 64 };
  const http = new HttpAgent(options);
  const https = new HttpsAgent(options);
  http.createConnection = guardedConnect(http.createConnection.bind(http), allowPrivate, idleMs);
  https.createConnection = guardedConnect(https.createConnection.bind(https) as Connect, allowPrivate, idleMs);
  for (const agent of [http, https]) {
    const reuse = agent.reuseSocket.bind(agent);
    agent.reuseSocket = (socket, request) => {
      idleLimit(socket as Socket, idleMs);
      reuse(socket, request);
    };
  }
  return { http, https };
}

const cache = new Map<boolean, GuardedAgents>();

/** One pair of keep-alive agents per guard setting, shared by every connection that uses it. */
export function guardedAgents(allowPrivate: boolean): GuardedAgents {
  let agents = cache.get(allowPrivate);
  if (!agents) {
    agents = makeGuardedAgents(allowPrivate);
    cache.set(allowPrivate, agents);
  }
  return agents;
}
