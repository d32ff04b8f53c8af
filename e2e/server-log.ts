/** What the main e2e server prints: playwright.config.ts tees it here, e2e/helpers.ts reads it. */
export const serverLog = ".data/e2e-server.log";
