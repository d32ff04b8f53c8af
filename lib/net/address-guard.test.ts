import "server-only";
import { describe, expect, it } from "vitest";
import { AppError } from "@/lib/errors";
import { forbiddenReason, guardedLookup, resolveAllowedAddress } from "./address-guard";

async function refusal(host: string): Promise<AppError> {
  const error = await resolveAllowedAddress(host, { allowPrivate: false }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, `${host} should be refused`).toBeInstanceOf(AppError);
  return error as AppError;
}

describe("resolveAllowedAddress", () => {
  it.each([
    ["127.0.0.1", /loopback/],
    ["10.0.0.1", /private network/],
    ["172.16.5.4", /private network/],
    ["192.168.1.1", /private network/],
    ["169.254.169.254", /cloud metadata/],
    ["169.254.1.1", /link-local/],
    ["100.64.0.1", /carrier-grade NAT/],
    ["0.0.0.0", /unspecified/],
    ["224.0.0.1", /multicast/],
    ["255.255.255.255", /reserved or broadcast/],
    ["[::1]", /loopback/],
    ["::1", /loopback/],
    ["::", /unspecified/],
    ["::ffff:127.0.0.1", /loopback.*embedded in the IPv6 address/],
    ["::ffff:10.1.2.3", /private network/],
    ["[::ffff:169.254.169.254]", /cloud metadata/],
    ["::ffff:0:7f00:1", /loopback.*embedded in the IPv6 address/],
    ["::ffff:0:127.0.0.1", /loopback.*embedded in the IPv6 address/],
    ["[::ffff:0:a00:1]", /private network/],
    ["::ffff:0:a9fe:a9fe", /cloud metadata/],
    ["64:ff9b::a00:1", /private network/],
    ["fe80::1", /link-local/],
    ["fe80::1%eth0", /link-local/],
    ["fd00:ec2::254", /cloud metadata/],
    ["fc00::5", /private \(unique local\)/],
    ["ff02::1", /multicast/],
    ["localhost", /loopback/],
    ["64:ff9b:1::a00:1", /local-use NAT64/],
    ["64:ff9b:1:ffff::1", /local-use NAT64/],
    ["2001::1", /Teredo/],
    ["2001:0:4136:e378:8000:63bf:3fff:fdd2", /Teredo/],
  ])("refuses %s", async (host, why) => {
    const error = await refusal(host);
    expect(error).toMatchObject({ code: "VALIDATION", reason: "forbidden-address" });
    expect(error.message).toMatch(why);
    expect(error.message).toMatch(/Coffer does not connect to/);
  });

  it("allows a public literal without any DNS lookup", async () => {
    await expect(resolveAllowedAddress("93.184.216.34", { allowPrivate: false })).resolves.toEqual({
      address: "93.184.216.34",
      family: 4,
    });
    await expect(
      resolveAllowedAddress("[2606:2800:220:1:248:1893:25c8:1946]", { allowPrivate: false }),
    ).resolves.toEqual({
      address: "2606:2800:220:1:248:1893:25c8:1946",
      family: 6,
    });
  });

  it("lets private addresses through when allowed, and returns the checked address", async () => {
    await expect(resolveAllowedAddress("127.0.0.1", { allowPrivate: true })).resolves.toEqual({
      address: "127.0.0.1",
      family: 4,
    });
    const local = await resolveAllowedAddress("localhost", { allowPrivate: true });
    expect(forbiddenReason(local.address)).toMatch(/loopback/);
  });

  it("answers .invalid names at once (RFC 6761) and rejects junk", async () => {
    const error = await refusal("nonexistent.invalid");
    expect(error).toMatchObject({ code: "UPSTREAM", reason: "unknown-host" });
    expect(error.message).toMatch(/Unknown host "nonexistent.invalid"/);
    for (const junk of ["", "  ", "a b", "http://x", "root@host", "x\ny"]) {
      await expect(resolveAllowedAddress(junk, { allowPrivate: true })).rejects.toMatchObject({ code: "VALIDATION" });
    }
  });

  it("classifies public addresses as allowed", () => {
    for (const ok of [
      "93.184.216.34",
      "8.8.8.8",
      "1.1.1.1",
      "2606:4700:4700::1111",
      "::ffff:8.8.8.8",
      "::ffff:0:808:808",
    ]) {
      expect(forbiddenReason(ok), ok).toBeUndefined();
    }
  });
});

describe("guardedLookup", () => {
  const lookupOnce = (allowPrivate: boolean, host: string) =>
    new Promise<{ err: Error | null; address?: string }>((resolve) =>
      guardedLookup(allowPrivate)(host, {}, (err, address) =>
        resolve({ err, address: typeof address === "string" ? address : undefined }),
      ),
    );

  it("hands sockets the checked address, and refuses what the guard refuses", async () => {
    expect(await lookupOnce(true, "127.0.0.1")).toEqual({ err: null, address: "127.0.0.1" });
    const refused = await lookupOnce(false, "localhost");
    expect(refused.err?.message).toMatch(/Coffer does not connect to localhost/);
  });
});
