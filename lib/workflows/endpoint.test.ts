import { Inngest } from "inngest";
import { serve } from "inngest/next";
import { NextRequest } from "next/server";
import { describe, expect, it } from "vitest";
import { registerWorkflowEndpoint, workflowEndpoint } from "./endpoint";

const url = "http://127.0.0.1:3000/api/inngest";

describe("workflowEndpoint", () => {
  it("is not found while no Inngest server runs the workflows", async () => {
    for (const method of ["GET", "POST", "PUT"] as const) {
      const res = await workflowEndpoint(method)(new NextRequest(url, { method }), undefined);
      expect(res.status).toBe(404);
    }
  });

  it("hands requests to the endpoint registered at start", async () => {
    const client = new Inngest({ id: "endpoint-test", isDev: true });
    const fn = client.createFunction({ id: "noop", triggers: [{ event: "test/noop" }] }, async () => null);
    registerWorkflowEndpoint(serve({ client, functions: [fn] }));
    const res = await workflowEndpoint("GET")(new NextRequest(url), undefined);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ function_count: 1, mode: "dev" });
  });
});
