/** The METRICS_TOKEN the e2e servers run with (playwright.config.ts), for scraping /api/metrics. */
export const e2eMetricsToken = "e2e-operators-metrics-token-0123456789";
