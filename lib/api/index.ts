import * as audit from "./audit";
import * as backups from "./backups";
import type { Operation } from "./operation";
import * as restores from "./restores";
import * as schedules from "./schedules";
import * as servers from "./servers";
import * as usage from "./usage";
import * as webhooks from "./webhooks";

/** Every /api/v1 operation; the OpenAPI document lists exactly these (a test holds app/api/v1 to it). */
export const operations: Operation[] = [backups, restores, schedules, servers, usage, audit, webhooks].flatMap((m) =>
  Object.values(m).filter((v): v is Operation => typeof v === "object" && v !== null && "method" in v && "path" in v),
);
