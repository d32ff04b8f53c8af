import "server-only";
import { Agent as HttpAgent, type AgentOptions, type ClientRequestArgs } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import type { Duplex } from "node:stream";
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

/** Checks a literal address, and has names resolved through the guard, before `connect` opens the socket. */
function guardedConnect(connect: Connect, allowPrivate: boolean): Connect {
  const lookup = guardedLookup(allowPrivate);
  return (options, callback) => {
    const refusal = literalRefusal(options.host ?? options.hostname, allowPrivate);
    if (refusal) {
      process.nextTick(() => callback?.(refusal, undefined as unknown as Duplex));
      return undefined;
    }
    return connect({ ...options, lookup }, callback);
  };
}

const cache = new Map<boolean, GuardedAgents>();

/** One pair of keep-alive agents per guard setting, shared by every connection that uses it. */
export function guardedAgents(allowPrivate: boolean): GuardedAgents {
  let agents = cache.get(allowPrivate);
  if (!agents) {
    const options: AgentOptions = { keepAlive: true, maxSockets: 64 };
    const http = new HttpAgent(options);
    const https = new HttpsAgent(options);
    http.createConnection = guardedConnect(http.createConnection.bind(http), allowPrivate);
    https.createConnection = guardedConnect(https.createConnection.bind(https) as Connect, allowPrivate);
    agents = { http, https };
    cache.set(allowPrivate, agents);
  }
  return agents;
}
