/**
 * Delay before each retry: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h — eight attempts over about
 * 28 hours. Every attempt carries the event's id as `webhook-id`.
 */
export const RETRY_DELAYS_MS = [5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000];
export const MAX_ATTEMPTS = RETRY_DELAYS_MS.length + 1;
