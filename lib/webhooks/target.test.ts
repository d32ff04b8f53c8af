import { describe, expect, it } from "vitest";

// As a production install without private networks: before lib/env is first read.
Object.assign(process.env, { NODE_ENV: "production" });
process.env.ALLOW_PRIVATE_NETWORKS = "false";
const { parseTarget } = await import("./target");

describe("notification targets in production", () => {
  it("take https only, and show only the host", () => {
    expect(() => parseTarget("http://hooks.example.com/x")).toThrow(/only over https/);
    const t = parseTarget("https://hooks.slack.com/services/T000/B000/secret#frag");
    expect(t.hint).toBe("hooks.slack.com");
    expect(t.url.toString()).toBe("https://hooks.slack.com/services/T000/B000/secret");
  });
});
