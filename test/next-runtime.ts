import { AsyncLocalStorage } from "node:async_hooks";

// What Next.js's server sets up before any of its request scopes exist (its async storages read it on load).
(globalThis as { AsyncLocalStorage?: typeof AsyncLocalStorage }).AsyncLocalStorage ??= AsyncLocalStorage;
