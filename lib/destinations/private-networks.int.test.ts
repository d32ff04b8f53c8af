import { describe, expect, it } from "vitest";
import { signedUpUser } from "@/test/factories";
import { createServer } from "../servers/mutations";
import { testServer } from "../servers/checks";
import { createDestination } from "./mutations";
import { listDestinations } from "./queries";

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
    // Azure hosts built from settings are checked too: the account name cannot rewrite the host,
    // and a connection string's EndpointSuffix host is resolved and checked like an endpoint.
    const accountKey = "a2V5LWtleS1rZXkta2V5LWtleS1rZXk=";
    await expect(
      createDestination(t, {
        kind: "azure",
        name: "az",
        container: "c",
        accountName: "127.0.0.1:10000/x?",
        accountKey,
      }),
    ).rejects.toThrow(/account name is 3 to 24 lowercase letters and digits/);
    await expect(
      createDestination(t, {
        kind: "azure",
        name: "az",
        container: "c",
        connectionString: `AccountName=acct;AccountKey=${accountKey};EndpointSuffix=internal.invalid`,
      }),
    ).rejects.toThrow('Unknown host "acct.blob.internal.invalid"');
    expect(await listDestinations(t)).toEqual([]);
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
