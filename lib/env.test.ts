import { afterEach, describe, expect, it, vi } from "vitest";

const saved = { ...process.env };
afterEach(() => {
  process.env = { ...saved };
  vi.resetModules();
});

async function decided(vars: Record<string, string | undefined>) {
  const e = await envWith(vars);
  (await import("./env")).assertProductionDecided(e);
  return e;
}

async function envWith(vars: Record<string, string | undefined>) {
  for (const [k, v] of Object.entries(vars)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  vi.resetModules();
  return (await import("./env")).env();
}

const noInngest = {
  INNGEST_DEV: undefined,
  INNGEST_BASE_URL: undefined,
  INNGEST_EVENT_KEY: undefined,
  INNGEST_SIGNING_KEY: undefined,
};

describe("where workflows run", () => {
  it("in this process when no Inngest server is configured", async () => {
    expect((await envWith({ ...noInngest })).workflows).toBe("in-process");
    expect((await envWith({ ...noInngest, INNGEST_DEV: "0" })).workflows).toBe("in-process");
  });
  it("on an Inngest server when one is configured", async () => {
    expect((await envWith({ ...noInngest, INNGEST_DEV: "1" })).workflows).toBe("inngest");
    expect(
      (await envWith({ ...noInngest, INNGEST_EVENT_KEY: "ek", INNGEST_SIGNING_KEY: "signkey-prod-abc" })).workflows,
    ).toBe("inngest");
  });
  it("refuses an Inngest server without an event key in production: no run could be started", async () => {
    await expect(
      envWith({ ...noInngest, NODE_ENV: "production", TRUST_PROXY: "false", INNGEST_SIGNING_KEY: "signkey-prod-abc" }),
    ).rejects.toThrow(/INNGEST_EVENT_KEY: required in production/);
  });
  it("refuses an unsigned Inngest endpoint in production", async () => {
    await expect(envWith({ ...noInngest, NODE_ENV: "production", INNGEST_DEV: "1" })).rejects.toThrow(
      /INNGEST_SIGNING_KEY: required in production/,
    );
    expect(
      (
        await envWith({
          ...noInngest,
          NODE_ENV: "production",
          TRUST_PROXY: "false",
          INNGEST_SIGNING_KEY: "signkey-prod-abc",
          INNGEST_EVENT_KEY: "ek",
        })
      ).workflows,
    ).toBe("inngest");
  });
});

describe("TRUST_PROXY and APP_URL", () => {
  const production = { ...noInngest, NODE_ENV: "production", APP_URL: "https://coffer.example.test" };
  it("must be set, either way, in production", async () => {
    await expect(decided({ ...production, TRUST_PROXY: undefined })).rejects.toThrow(
      /TRUST_PROXY: required in production\. Set TRUST_PROXY=true .* or TRUST_PROXY=false to acknowledge/,
    );
    await expect(decided({ ...production, TRUST_PROXY: "" })).rejects.toThrow(/TRUST_PROXY: required in production/);
    expect((await decided({ ...production, TRUST_PROXY: "false" })).TRUST_PROXY).toBe(false);
    expect((await decided({ ...production, TRUST_PROXY: "true" })).TRUST_PROXY).toBe(true);
  });
  it("APP_URL must be set in production: its default, localhost, would go into every e-mailed link", async () => {
    await expect(decided({ ...production, APP_URL: undefined, TRUST_PROXY: "false" })).rejects.toThrow(
      /APP_URL: required in production\. Set it to the address people open Coffer at/,
    );
    await expect(decided({ ...production, APP_URL: "", TRUST_PROXY: undefined })).rejects.toThrow(
      /APP_URL: required in production[^]*\n {2}TRUST_PROXY: required in production/,
    );
    expect((await decided({ ...production, TRUST_PROXY: "false" })).APP_URL).toBe("https://coffer.example.test");
  });
  it("may stay unset in development", async () => {
    const e = await decided({ ...noInngest, NODE_ENV: "development", TRUST_PROXY: undefined, APP_URL: "" });
    expect(e.TRUST_PROXY).toBe(undefined);
    expect(e.APP_URL).toBe("http://localhost:3000");
  });
});

describe("upload limits and the local storage quota", () => {
  it("read sizes with units, 0 as no limit, and refuse anything else naming the variable", async () => {
    expect(
      await envWith({ UPLOAD_MAX_SIZE: undefined, LOCAL_STORAGE_QUOTA: "", UPLOAD_MAX_EXPANSION: "" }),
    ).toMatchObject({
      UPLOAD_MAX_SIZE: 20 * 2 ** 30,
      LOCAL_STORAGE_QUOTA: 50 * 2 ** 30,
      UPLOAD_MAX_EXPANSION: 200,
    });
    expect(await envWith({ UPLOAD_MAX_SIZE: "512MiB", LOCAL_STORAGE_QUOTA: "0" })).toMatchObject({
      UPLOAD_MAX_SIZE: 512 * 2 ** 20,
      LOCAL_STORAGE_QUOTA: Infinity,
    });
    expect((await envWith({ UPLOAD_MAX_SIZE: "1000" })).UPLOAD_MAX_SIZE).toBe(1000);
    await expect(envWith({ UPLOAD_MAX_SIZE: "lots" })).rejects.toThrow(
      "UPLOAD_MAX_SIZE: UPLOAD_MAX_SIZE must be a size such as 500MiB, 20GiB or 0 (no limit)",
    );
    await expect(envWith({ UPLOAD_MAX_EXPANSION: "1" })).rejects.toThrow("UPLOAD_MAX_EXPANSION must be at least 2");
  });
  it("read the upload idle timeout in whole seconds, 60 by default, refusing anything else naming the variable", async () => {
    expect((await envWith({ UPLOAD_IDLE_TIMEOUT: undefined })).UPLOAD_IDLE_TIMEOUT).toBe(60);
    expect((await envWith({ UPLOAD_IDLE_TIMEOUT: "" })).UPLOAD_IDLE_TIMEOUT).toBe(60);
    expect((await envWith({ UPLOAD_IDLE_TIMEOUT: "5" })).UPLOAD_IDLE_TIMEOUT).toBe(5);
    await expect(envWith({ UPLOAD_IDLE_TIMEOUT: "0" })).rejects.toThrow(
      "UPLOAD_IDLE_TIMEOUT: UPLOAD_IDLE_TIMEOUT must be at least 1 (second)",
    );
    await expect(envWith({ UPLOAD_IDLE_TIMEOUT: "1.5" })).rejects.toThrow(
      "UPLOAD_IDLE_TIMEOUT must be a whole number of seconds",
    );
    await expect(envWith({ UPLOAD_IDLE_TIMEOUT: "a minute" })).rejects.toThrow(
      "UPLOAD_IDLE_TIMEOUT must be a number of seconds such as 60",
    );
  });
});
