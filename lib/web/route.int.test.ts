/**
 * tokenRoute, through a route built on it (a team's Prometheus metrics, read with an API token),
 * called as Next.js would with a real Request.
 */
import { describe, expect, it } from "vitest";
import { createApiToken } from "@/lib/api-tokens/tokens";
import { setApiTokenRow } from "@/test/arrange";
import { signedUpUser } from "@/test/factories";
import * as metricsRoute from "@/app/api/teams/[team]/metrics/route";

const metrics = (team: string, token: string) =>
  metricsRoute.GET(
    new Request(`http://127.0.0.1:3000/api/teams/${team}/metrics`, { headers: { authorization: `Bearer ${token}` } }),
    { params: Promise.resolve({ team }) },
  );

describe("tokenRoute", () => {
  it("takes each request from the token's rate limit, as /api/v1 does: 429 with Retry-After once it is used up", async () => {
    const user = await signedUpUser("Scraper");
    const t = await user.team("admin");
    const { token, id } = await createApiToken(t, { name: "prometheus", scopes: ["metrics:read"] });
    // One request left in the bucket (dated ahead, so nothing drips in during the test).
    await setApiTokenRow(id, { rateTokens: 1.5, rateCheckedAt: new Date(Date.now() + 10_000) });
    const first = await metrics(t.slug, token);
    expect(first.status).toBe(200);
    expect(await first.text()).toContain("coffer_");
    const held = await metrics(t.slug, token);
    expect(held.status).toBe(429);
    expect(Number(held.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(await held.json()).toMatchObject({
      error: {
        code: "RATE_LIMITED",
        message: expect.stringMatching(/^This token made too many requests; try again in \d+ s\.$/),
      },
    });
    // Another token of the team has its own bucket.
    const other = await createApiToken(t, { name: "grafana", scopes: ["metrics:read"] });
    expect((await metrics(t.slug, other.token)).status).toBe(200);
  });
});
