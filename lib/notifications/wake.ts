import { dispatch } from "../workflows/dispatch";

/**
 * Says "deliveries are waiting" to the workflow engine; calls within WAKE_DELAY_MS are coalesced
 * into one. Without an engine (tests, scripts) the delivery workflow's every-minute run picks them up.
 */
const WAKE_DELAY_MS = 100;

// On globalThis: Next.js loads lib/ once per bundle, and one wake-up per process is enough.
const KEY = Symbol.for("coffer.notifications-wake");
type Holder = { [KEY]?: NodeJS.Timeout };

/** Asks for a delivery run soon. Never throws and never waits. */
export function notificationsQueued(): void {
  const holder = globalThis as Holder;
  if (holder[KEY]) return;
  holder[KEY] = setTimeout(() => {
    holder[KEY] = undefined;
    void dispatch.deliveriesQueued();
  }, WAKE_DELAY_MS);
  holder[KEY].unref();
}
