import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { insertChannelRow } from "@/test/arrange";
import { signedUpUser } from "@/test/factories";
import { startReceiver, type Receiver } from "@/test/servers/webhook-receiver";
import { enqueue } from "../notifications/emit";
import { exampleData } from "../notifications/examples";
import { createChannel } from "./channels";
import { deliverChannel } from "./deliver";
import { listDeliveries } from "./queries";
import { newSigningSecret, sealChannelSecret } from "./secrets";

// As in production: notifications may not be sent into Coffer's own network.
process.env.ALLOW_PRIVATE_NETWORKS = "false";

let receiver: Receiver;
beforeAll(async () => {
  receiver = await startReceiver();
});
afterAll(() => receiver?.stop());

describe("outbound address guard for notifications", () => {
  it("refuses endpoints on loopback, private and metadata addresses when saved", async () => {
    const t = await (await signedUpUser("Guard")).team("admin");
    for (const url of [
      receiver.url("/x"),
      "http://10.1.2.3/hook",
      "http://169.254.169.254/latest",
      "http://[::1]:8080/x",
      "http://localhost/x",
    ])
      await expect(createChannel(t, { kind: "webhook", url, description: "", events: [] }), url).rejects.toMatchObject({
        code: "VALIDATION",
        fieldErrors: { url: [expect.stringContaining("ALLOW_PRIVATE_NETWORKS")] },
      });
    await expect(
      createChannel(t, { kind: "discord", url: "http://192.168.1.10/api/webhooks/1/x", description: "", events: [] }),
    ).rejects.toMatchObject({ code: "VALIDATION" });
  });

  it("checks again before each attempt: a stored loopback URL fails for good, without a request or retries", async () => {
    const t = await (await signedUpUser("Guard")).team("admin");
    const id = "chn_0000000000000000000000loop";
    await insertChannelRow({
      id,
      teamId: t.id,
      kind: "webhook",
      urlEnc: sealChannelSecret(t.id, id, "url_enc", receiver.url("/loop")),
      urlHint: `127.0.0.1:${receiver.port}`,
      secretEnc: sealChannelSecret(t.id, id, "secret_enc", newSigningSecret()),
    });
    await enqueue(t, "backup.failed", exampleData("backup.failed", "http://x"), {});
    await deliverChannel(t.id, id, 1_000);
    expect(receiver.received).toHaveLength(0);
    const [row] = await listDeliveries(t, id);
    expect(row).toMatchObject({ status: "failed", attempts: 1, responseStatus: null });
    expect(row!.error).toContain("it is a loopback address");
  });
});
