import { log } from "../log";

/**
 * How lib says "deliveries are waiting" without importing the workflow engine: the engine
 * registers a waker at start (inngest/start.ts), and calls within WAKE_DELAY_MS are coalesced into
 * one. Without a waker (tests, scripts) nothing happens at once: the delivery workflow's
 * every-minute run picks the deliveries up.
 */
const WAKE_DELAY_MS = 100;

type Waker = () => Promise<void> | void;
// On globalThis: Next.js loads lib/ once per bundle, and the engine registers once per process.
const KEY = Symbol.for("coffer.notifications-waker");
type Holder = { [KEY]?: { wake: Waker; timer?: NodeJS.Timeout } };

export function registerNotificationWaker(wake: Waker): void {
  (globalThis as Holder)[KEY] = { wake };
}

/** Asks for a delivery run soon. Never throws and never waits. */
export function notificationsQueued(): void {
  const holder = (globalThis as Holder)[KEY];
  if (!holder || holder.timer) return;
  holder.timer = setTimeout(() => {
    holder.timer = undefined;
    Promise.resolve()
      .then(holder.wake)
      .catch((err: unknown) => log.warn("notification wake-up failed; the next minute's run delivers", { err }));
  }, WAKE_DELAY_MS);
  holder.timer.unref();
}
