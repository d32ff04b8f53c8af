import { describe, expect, it } from "vitest";
import { AppError } from "@/lib/errors";
import { customEndpointHosts, parseStorageConfig, type StorageConfig } from "./index";

const key = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

function refusal(config: Record<string, unknown>): AppError {
  try {
    parseStorageConfig(config);
  } catch (err) {
    if (err instanceof AppError) return err;
    throw err;
  }
  throw new Error("accepted");
}

describe("Azure settings cannot choose an unchecked host", () => {
  it.each(["10.0.0.5:8443/x?", "Acct", "ab", "a".repeat(25), "acct.evil", "acct@evil"])(
    "refuses the account name %j",
    (accountName) => {
      const err = refusal({ kind: "azure", container: "c", accountName, accountKey: key });
      expect(err.code).toBe("VALIDATION");
      expect(err.fieldErrors?.accountName?.[0]).toMatch(/3 to 24 lowercase letters and digits/);
    },
  );

  it.each([
    [`AccountName=10.0.0.5:8443/x?;AccountKey=${key}`, /AccountName: The account name is 3 to 24/],
    [`AccountName=acct;AccountKey=${key};EndpointSuffix=10.0.0.5:8443/x?`, /EndpointSuffix must be a plain domain/],
    [`AccountKey=${key}`, /names no AccountName or BlobEndpoint/],
    [`AccountName=acct;AccountKey=${key};BlobEndpoint=ftp://10.0.0.5/`, /BlobEndpoint must be an http/],
  ])("refuses the connection string %j", (connectionString, message) => {
    const err = refusal({ kind: "azure", container: "c", connectionString });
    expect(err.fieldErrors?.connectionString?.[0]).toMatch(message);
  });

  it("checks the host the SDK builds from EndpointSuffix, and leaves Azure's own hosts alone", () => {
    const azure = (connectionString: string) =>
      customEndpointHosts(parseStorageConfig({ kind: "azure", container: "c", connectionString }) as StorageConfig);
    expect(
      azure(`DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=${key};EndpointSuffix=example.net`),
    ).toEqual(["acct.blob.example.net"]);
    expect(azure(`AccountName=acct;AccountKey=${key};EndpointSuffix=core.windows.net`)).toEqual([]);
    expect(azure(`AccountName=acct;AccountKey=${key};BlobEndpoint=http://10.0.0.5:10000/acct`)).toEqual(["10.0.0.5"]);
    expect(azure("UseDevelopmentStorage=true")).toEqual(["127.0.0.1"]);
    expect(
      customEndpointHosts(parseStorageConfig({ kind: "azure", container: "c", accountName: "acct", accountKey: key })),
    ).toEqual([]);
  });
});
