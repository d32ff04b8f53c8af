import "./next-runtime";
import { encode } from "next-auth/jwt";
import { workAsyncStorage } from "next/dist/server/app-render/work-async-storage.external.js";
import { workUnitAsyncStorage } from "next/dist/server/app-render/work-unit-async-storage.external.js";
import { createRequestStoreForAPI } from "next/dist/server/async-storage/request-store.js";
import { createWorkStore } from "next/dist/server/async-storage/work-store.js";
import { authSecret } from "@/lib/auth/secret";
import { createSession } from "@/lib/auth/users";
import { env } from "@/lib/env";

/** Auth.js's session cookie on plain http (tests run with an http APP_URL). */
const SESSION_COOKIE = "authjs.session-token";

/**
 * A signed-in browser's Cookie header: a real session row and the JWT Auth.js would have set for
 * it at sign-in, so the code under test reads it through `auth()` as in the app.
 */
export async function sessionCookie(userId: string): Promise<string> {
  const sid = await createSession(userId, null, "vitest");
  const token = await encode({ token: { sub: userId, sid }, secret: authSecret(), salt: SESSION_COOKIE });
  return `${SESSION_COOKIE}=${token}`;
}

/**
 * Runs `fn` inside the request scope Next.js gives a server action or route handler (its work and
 * request stores, made by Next's own constructors), so `headers()`, `cookies()`, `auth()` and
 * `revalidatePath()` behave as they do in the app. `cookie` is the browser's Cookie header.
 */
export function inRequest<T>(
  fn: () => Promise<T>,
  { cookie, path = "/", headers = {} }: { cookie?: string; path?: string; headers?: Record<string, string> } = {},
): Promise<T> {
  const url = new URL(path, env().APP_URL);
  const request = {
    headers: {
      host: url.host,
      // Next.js's server adds these to every request it hands on.
      "x-forwarded-host": url.host,
      "x-forwarded-proto": url.protocol.slice(0, -1),
      origin: url.origin,
      "sec-fetch-site": "same-origin",
      ...(cookie ? { cookie } : {}),
      ...headers,
    },
  };
  const workStore = createWorkStore({
    page: path,
    renderOpts: { incrementalCache: {}, experimental: {}, cacheLifeProfiles: {} },
    isPrefetchRequest: false,
    buildId: "vitest",
  } as unknown as Parameters<typeof createWorkStore>[0]);
  const requestStore = createRequestStoreForAPI(
    request as unknown as Parameters<typeof createRequestStoreForAPI>[0],
    { pathname: url.pathname, search: url.search },
    { tags: [], expirationsByCacheKind: new Map() } as unknown as Parameters<typeof createRequestStoreForAPI>[2],
    undefined, // no cookie updates to pass on
    undefined, // no preview mode
    undefined, // no HMR
  );
  return workAsyncStorage.run(workStore, () => workUnitAsyncStorage.run(requestStore, fn));
}
