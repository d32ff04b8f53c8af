import { afterEach, describe, expect, it, vi } from "vitest";
import { log } from "./log";

afterEach(() => vi.restoreAllMocks());

function logged(fields: Record<string, unknown>, message = "something failed"): string {
  const lines: string[] = [];
  vi.spyOn(console, "error").mockImplementation((line: string) => void lines.push(line));
  log.error(message, fields);
  return lines.join("\n");
}

describe("log redaction", () => {
  it("hides the values of secret-named keys, whatever their case or nesting", () => {
    const line = logged({
      env: { PGPASSWORD: "pg-pass-1", PGHOST: "db.example.test" },
      config: {
        secretAccessKey: "aws-secret-2",
        accountKey: "azure-key-3",
        sasUrl: "https://acct.blob.core.windows.net/c?sv=2024&sig=sas-sig-4",
        connectionString: "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=azure-key-5",
        private_key_id: "gcs-key-id-6",
        sessionToken: "aws-session-7",
        passphrase: "ssh-pass-8",
        credentials: { private_key: "gcs-private-9" },
      },
      list: [{ apiKey: "api-key-10" }],
    });
    for (const secret of ["pg-pass-1", "aws-secret-2", "azure-key-3", "sas-sig-4", "azure-key-5", "gcs-key-id-6"])
      expect(line).not.toContain(secret);
    for (const secret of ["aws-session-7", "ssh-pass-8", "gcs-private-9", "api-key-10"])
      expect(line).not.toContain(secret);
    expect(line).toContain("db.example.test"); // not a secret: kept for debugging
  });

  it("hides secrets inside messages: connection strings, SAS signatures, key=value pairs", () => {
    const line = logged(
      {},
      "upload failed: AccountKey=azure-key-1;EndpointSuffix=core.windows.net url=https://a.blob.core.windows.net/c?sv=1&sig=sas-sig-2 PGPASSWORD=pg-pass-3",
    );
    for (const secret of ["azure-key-1", "sas-sig-2", "pg-pass-3"]) expect(line).not.toContain(secret);
  });
});
