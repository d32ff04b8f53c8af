import { describe, expect, it } from "vitest";
import { signedUpUser } from "@/test/factories";
import { createServer } from "../servers/mutations";
import { testServer } from "../servers/checks";
import { createDestination } from "./mutations";

// As in production: user-supplied hosts may not point into Coffer's own network.
process.env.ALLOW_PRIVATE_NETWORKS = "false";

describe("outbound address guard", () => {
  it("refuses storage endpoints and SSH hosts that resolve to loopback, private or metadata addresses", async () => {
    const a = await signedUpUser("Alice");
    const t = await a.team("admin");
    const s3 = {
      kind: "s3" as const,
      bucket: "b",
      region: "us-east-1",
      forcePathStyle: true,
      accessKeyId: "k",
      secretAccessKey: "s",
    };
    for (const endpoint of [
      "http://127.0.0.1:9000",
      "http://10.0.0.1",
      "http://169.254.169.254",
      "http://[::1]:9000",
      "http://localhost:9000",
    ]) {
      await expect(createDestination(t, { ...s3, name: endpoint, endpoint }), endpoint).rejects.toThrow(
        /ALLOW_PRIVATE_NETWORKS/,
      );
    }
    const { id } = await createServer(t, {
      kind: "ssh",
      name: "metadata",
      host: "169.254.169.254",
      port: 22,
      username: "root",
      authMethod: "password",
      password: "x",
      workDir: "/tmp",
    });
    const result = await testServer(t, id);
    expect(result.ok).toBe(false);
    expect(result.message).toMatch(/ALLOW_PRIVATE_NETWORKS/);
  });
});
