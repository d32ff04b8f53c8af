import { describe, expect, it } from "vitest";
import { AppError } from "@/lib/errors";
import { scrub, toStorageError, type StorageErrorContext } from "./errors";

// Error objects shaped like those the SDKs throw for cases the test servers cannot produce
// (wrong region, clock skew, token exchange failures, DNS); the real-server cases are in
// adapters.int.test.ts.

const s3: StorageErrorContext = {
  provider: "s3",
  bucket: "backups",
  host: "s3.us-east-1.amazonaws.com:443",
  region: "us-east-1",
  secrets: ["wJalrXUtnFEMI/K7MDENG"],
};
const gcs: StorageErrorContext = {
  provider: "gcs",
  bucket: "backups",
  host: "storage.googleapis.com:443",
  secrets: [],
};
const azure: StorageErrorContext = {
  provider: "azure",
  bucket: "backups",
  host: "acct.blob.core.windows.net:443",
  secrets: ["c2VjcmV0a2V5c2VjcmV0a2V5"],
};

function map(err: unknown, ctx: StorageErrorContext): AppError {
  const out = toStorageError(err, ctx);
  expect(out).toBeInstanceOf(AppError);
  return out as AppError;
}

function s3Error(name: string, status: number, extra: Record<string, unknown> = {}) {
  return Object.assign(new Error(extra.message as string | undefined), {
    name,
    $metadata: { httpStatusCode: status },
    ...extra,
  });
}

describe("toStorageError", () => {
  it("names the bucket's region when S3 says it is elsewhere", () => {
    const redirect = s3Error("PermanentRedirect", 301, {
      $response: { headers: { "x-amz-bucket-region": "eu-west-1" } },
    });
    const a = map(redirect, s3);
    expect(a.code).toBe("VALIDATION");
    expect(a.message).toContain("region eu-west-1");
    expect(a.message).toContain("us-east-1");

    const malformed = s3Error("AuthorizationHeaderMalformed", 400, {
      message: "The authorization header is malformed; the region 'us-east-1' is wrong; expecting 'eu-central-1'",
    });
    expect(map(malformed, s3).message).toContain("Change the destination's region to eu-central-1");
  });

  it("asks to fix the server clock on skew", () => {
    expect(map(s3Error("RequestTimeTooSkewed", 403), s3).message).toMatch(/clock/);
    const azureSkew = Object.assign(new Error("Server failed to authenticate the request."), {
      name: "RestError",
      statusCode: 403,
      code: "AuthenticationFailed",
      details: {
        errorCode: "AuthenticationFailed",
        authenticationErrorDetail: "Request date header too old: 'Mon, 01 Jan 2024 00:00:00 GMT'",
      },
    });
    expect(map(azureSkew, azure).message).toMatch(/Fix the server clock/);
    const gcsSkew = Object.assign(
      new Error(
        "invalid_grant: Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.",
      ),
      {
        response: {
          status: 400,
          data: {
            error: "invalid_grant",
            error_description:
              "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.",
          },
        },
      },
    );
    expect(map(gcsSkew, gcs).message).toMatch(/clock/);
  });

  it("explains rejected keys and missing permissions", () => {
    const badJwt = Object.assign(new Error("invalid_grant: Invalid JWT Signature."), {
      response: { status: 400, data: { error: "invalid_grant" } },
    });
    expect(map(badJwt, gcs).message).toMatch(/service-account key/);
    const denied = map(s3Error("AccessDenied", 403, { message: "Access Denied" }), s3);
    expect(denied.message).toMatch(/Access denied to the bucket "backups"/);
    expect(denied.message).toContain("s3:PutObject");
    const gcsDenied = Object.assign(
      new Error("x@y.iam.gserviceaccount.com does not have storage.objects.create access"),
      { code: 403, errors: [{ reason: "forbidden" }] },
    );
    expect(map(gcsDenied, gcs).message).toContain("roles/storage.objectAdmin");
    expect(map(s3Error("ExpiredToken", 400), s3).message).toMatch(/session token/);
  });

  it("names the host when it cannot be reached", () => {
    const dns = Object.assign(new Error("getaddrinfo ENOTFOUND minio.example.invalid"), {
      code: "ENOTFOUND",
      $metadata: {},
    });
    const m = map(dns, { ...s3, host: "minio.example.invalid:9000" }).message;
    expect(m).toContain("minio.example.invalid:9000");
    expect(m).toContain("does not resolve");
    const azureRefused = Object.assign(new Error("connect ECONNREFUSED 10.0.0.5:443"), {
      name: "RestError",
      code: "REQUEST_SEND_ERROR",
    });
    expect(map(azureRefused, azure).message).toContain("connection refused");
    const reset = Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" });
    expect(map(reset, s3).message).toMatch(/broke \(connection reset\)\. Try again/);
    const tls = Object.assign(new Error("self-signed certificate"), { code: "DEPTH_ZERO_SELF_SIGNED_CERT" });
    expect(map(tls, s3).message).toMatch(/TLS/);
  });

  it("reports archived objects, throttling and missing objects", () => {
    expect(map(s3Error("InvalidObjectState", 403), { ...s3, key: "a.bin" }).code).toBe("CONFLICT");
    expect(map(s3Error("SlowDown", 503), s3).message).toMatch(/throttling/);
    const missing = map(s3Error("NoSuchKey", 404), { ...s3, key: "a.bin" });
    expect(missing.code).toBe("NOT_FOUND");
    expect(missing.message).toContain('"a.bin"');
  });

  it("maps local file-system errors", () => {
    const local: StorageErrorContext = { provider: "local", bucket: "/srv/backups", host: "localhost", secrets: [] };
    expect(map(Object.assign(new Error("no space"), { code: "ENOSPC" }), local).message).toMatch(/full/);
    expect(map(Object.assign(new Error("denied"), { code: "EACCES" }), local).message).toMatch(/permission denied/);
  });

  it("never repeats provider text, and scrubs secrets even from AppErrors", () => {
    const leaky = Object.assign(new Error(`Signature failed for key wJalrXUtnFEMI/K7MDENG`), {
      name: "WeirdError",
      $metadata: { httpStatusCode: 418 },
    });
    expect(map(leaky, s3).message).not.toContain("wJalrXUtnFEMI");
    const app = map(new AppError("UPSTREAM", "bad key c2VjcmV0a2V5c2VjcmV0a2V5"), azure);
    expect(app.message).toBe("bad key [redacted]");
    expect(scrub("a%2Fb sec/ret", ["sec/ret"])).toBe("a%2Fb [redacted]");
  });

  it("passes abort errors through unchanged", () => {
    const abort = new DOMException("The operation was aborted", "AbortError");
    expect(toStorageError(abort, s3)).toBe(abort);
  });
});
