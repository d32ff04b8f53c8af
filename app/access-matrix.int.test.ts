import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { inRequest, sessionCookie } from "@/test/request-context";
import { signedUpUser } from "@/test/factories";
import { databaseFingerprint } from "@/test/fingerprint";
import { env } from "@/lib/env";
import { createApiToken } from "@/lib/api-tokens/tokens";
import { createDestination } from "@/lib/destinations/mutations";
import { DEFAULT_POLICY } from "@/lib/retention/select";
import { createSchedule } from "@/lib/schedules/mutations";
import { createServer } from "@/lib/servers/mutations";
import { createSource } from "@/lib/servers/source-mutations";
import { acceptInvitation, createInvitation } from "@/lib/teams/invitations";
import { listMembers } from "@/lib/teams/queries";
import { createChannel } from "@/lib/webhooks/channels";
import { insertBackupRow } from "@/test/arrange";
import { roleAtLeast, type Role } from "@/lib/teams/roles";

/**
 * Who may call each server action and route handler. Every one of them is found by walking the
 * source (files with a "use server" directive, `app/**\/route.ts` exports named after HTTP
 * methods); one found here but not listed, or listed but gone, fails the test.
 * - a role: team-scoped, the smallest role allowed (below it 403, another team 404, anonymous 401);
 * - "user": any signed-in user, outside a team (anonymous 401);
 * - "token": a team route for API tokens only (a browser session is no token: 401);
 * - "public": anyone, by design (sign-in and sign-up; probes; Auth.js; Inngest signs its own calls).
 */
type Access = Role | "user" | "token" | "public";

const actions: Record<string, Access> = {
  "app/(auth)/actions.ts#signInAction": "public",
  "app/(auth)/actions.ts#signUpAction": "public",
  "app/(auth)/actions.ts#signOutAction": "public",
  "app/(auth)/actions.ts#signOutEverywhereAction": "user",
  "app/(auth)/actions.ts#confirmEmailAction": "public",
  "app/(auth)/actions.ts#resendVerificationAction": "user",
  "app/(auth)/actions.ts#requestPasswordResetAction": "public",
  "app/(auth)/actions.ts#resetPasswordAction": "public",
  "app/(auth)/actions.ts#acceptInvitationAction": "user",
  "app/(auth)/actions.ts#oauthSignInAction": "public",
  "app/(app)/account/actions.ts#createTeamAction": "user",
  "app/(app)/account/actions.ts#setMailPreferencesAction": "user",
  "app/(app)/account/actions.ts#changePasswordAction": "user",
  "app/(app)/[team]/actions.ts#addTeamKeyAction": "admin",
  "app/(app)/[team]/actions.ts#removeTeamKeyAction": "admin",
  "app/(app)/[team]/actions.ts#updateTeamAction": "admin",
  "app/(app)/[team]/actions.ts#leaveTeamAction": "viewer",
  "app/(app)/[team]/actions.ts#inviteAction": "admin",
  "app/(app)/[team]/actions.ts#resendInvitationAction": "admin",
  "app/(app)/[team]/actions.ts#revokeInvitationAction": "admin",
  "app/(app)/[team]/actions.ts#changeRoleAction": "admin",
  "app/(app)/[team]/actions.ts#removeMemberAction": "admin",
  "app/(app)/[team]/actions.ts#transferOwnershipAction": "owner",
  "app/(app)/[team]/actions.ts#updateTeamRetentionAction": "admin",
  "app/(app)/[team]/actions.ts#setTrashDaysAction": "admin",
  "app/(app)/[team]/backups/actions.ts#backUpNowAction": "member",
  "app/(app)/[team]/backups/actions.ts#cancelBackupAction": "member",
  "app/(app)/[team]/backups/actions.ts#removeFailedUploadAction": "member",
  "app/(app)/[team]/backups/actions.ts#requestRetrievalAction": "member",
  "app/(app)/[team]/backups/actions.ts#deleteBackupAction": "admin",
  "app/(app)/[team]/backups/actions.ts#restoreFromTrashAction": "admin",
  "app/(app)/[team]/backups/actions.ts#deleteFromTrashAction": "admin",
  "app/(app)/[team]/backups/[backupId]/restore/actions.ts#restoreDatabaseAction": "member",
  "app/(app)/[team]/backups/[backupId]/restore/actions.ts#restoreDirectoryAction": "member",
  "app/(app)/[team]/backups/[backupId]/restore/actions.ts#verifyNowAction": "member",
  "app/(app)/[team]/backups/[backupId]/restore/actions.ts#cancelRestoreAction": "member",
  "app/(app)/[team]/schedules/actions.ts#createScheduleAction": "member",
  "app/(app)/[team]/schedules/actions.ts#updateScheduleAction": "member",
  "app/(app)/[team]/schedules/actions.ts#setScheduleEnabledAction": "member",
  "app/(app)/[team]/schedules/actions.ts#deleteScheduleAction": "member",
  "app/(app)/[team]/schedules/actions.ts#previewRetentionAction": "viewer",
  "app/(app)/[team]/servers/actions.ts#createServerAction": "member",
  "app/(app)/[team]/servers/actions.ts#updateServerAction": "member",
  "app/(app)/[team]/servers/actions.ts#deleteServerAction": "member",
  "app/(app)/[team]/servers/actions.ts#testServerAction": "member",
  "app/(app)/[team]/servers/actions.ts#acceptHostKeyAction": "admin",
  "app/(app)/[team]/servers/actions.ts#createSourceAction": "member",
  "app/(app)/[team]/servers/actions.ts#updateSourceAction": "member",
  "app/(app)/[team]/servers/actions.ts#deleteSourceAction": "member",
  "app/(app)/[team]/servers/actions.ts#testSourceAction": "member",
  "app/(app)/[team]/settings/api-tokens/actions.ts#createApiTokenAction": "admin",
  "app/(app)/[team]/settings/api-tokens/actions.ts#revokeApiTokenAction": "admin",
  "app/(app)/[team]/storage/actions.ts#createDestinationAction": "admin",
  "app/(app)/[team]/storage/actions.ts#updateDestinationAction": "admin",
  "app/(app)/[team]/storage/actions.ts#deleteDestinationAction": "admin",
  "app/(app)/[team]/storage/actions.ts#testDestinationAction": "member",
  "app/(app)/[team]/storage/actions.ts#setPricesAction": "admin",
  "app/(app)/[team]/storage/actions.ts#takeBackBackupsAction": "admin",
  "app/(app)/[team]/webhooks/actions.ts#createChannelAction": "admin",
  "app/(app)/[team]/webhooks/actions.ts#updateChannelAction": "admin",
  "app/(app)/[team]/webhooks/actions.ts#deleteChannelAction": "admin",
  "app/(app)/[team]/webhooks/actions.ts#setChannelEnabledAction": "admin",
  "app/(app)/[team]/webhooks/actions.ts#rotateSecretAction": "admin",
  "app/(app)/[team]/webhooks/actions.ts#sendTestAction": "admin",
  "app/(app)/[team]/webhooks/actions.ts#redeliverAction": "admin",
};

const routes: Record<string, Access> = {
  "app/api/auth/[...nextauth]/route.ts GET": "public",
  "app/api/auth/[...nextauth]/route.ts POST": "public",
  "app/api/health/route.ts GET": "public",
  "app/api/ready/route.ts GET": "public",
  "app/api/metrics/route.ts GET": "public", // METRICS_TOKEN, the operator's
  "app/api/inngest/route.ts GET": "public",
  "app/api/inngest/route.ts POST": "public",
  "app/api/inngest/route.ts PUT": "public",
  "app/api/teams/[team]/audit-log/route.ts GET": "admin",
  "app/api/teams/[team]/backups/upload/route.ts POST": "member",
  "app/api/teams/[team]/backups/[backupId]/download/route.ts GET": "member",
  "app/api/teams/[team]/backups/[backupId]/download/route.ts HEAD": "member",
  "app/api/teams/[team]/backups/[backupId]/object/route.ts GET": "member",
  "app/api/teams/[team]/backups/[backupId]/object/route.ts HEAD": "member",
  "app/api/teams/[team]/storage/[destinationId]/scan/route.ts POST": "admin",
  "app/api/teams/[team]/metrics/route.ts GET": "token",
  "app/api/v1/audit-log/route.ts GET": "token",
  "app/api/v1/backups/[backupId]/cancel/route.ts POST": "token",
  "app/api/v1/backups/[backupId]/download/route.ts GET": "token",
  "app/api/v1/backups/[backupId]/restores/route.ts GET": "token",
  "app/api/v1/backups/[backupId]/route.ts GET": "token",
  "app/api/v1/backups/route.ts GET": "token",
  "app/api/v1/backups/route.ts POST": "token",
  "app/api/v1/backups/upload/route.ts POST": "token",
  "app/api/v1/destinations/[destinationId]/route.ts GET": "token",
  "app/api/v1/destinations/route.ts GET": "token",
  "app/api/v1/restores/[restoreId]/cancel/route.ts POST": "token",
  "app/api/v1/restores/[restoreId]/route.ts GET": "token",
  "app/api/v1/restores/route.ts POST": "token",
  "app/api/v1/schedules/[scheduleId]/pause/route.ts POST": "token",
  "app/api/v1/schedules/[scheduleId]/resume/route.ts POST": "token",
  "app/api/v1/schedules/[scheduleId]/retention-preview/route.ts POST": "token",
  "app/api/v1/schedules/[scheduleId]/route.ts DELETE": "token",
  "app/api/v1/schedules/[scheduleId]/route.ts GET": "token",
  "app/api/v1/schedules/[scheduleId]/route.ts PUT": "token",
  "app/api/v1/schedules/[scheduleId]/run/route.ts POST": "token",
  "app/api/v1/schedules/route.ts GET": "token",
  "app/api/v1/schedules/route.ts POST": "token",
  "app/api/v1/servers/[serverId]/route.ts PUT": "token",
  "app/api/v1/servers/[serverId]/route.ts DELETE": "token",
  "app/api/v1/servers/[serverId]/test/route.ts POST": "token",
  "app/api/v1/servers/[serverId]/sources/route.ts POST": "token",
  "app/api/v1/servers/route.ts POST": "token",
  "app/api/v1/sources/[sourceId]/route.ts PUT": "token",
  "app/api/v1/sources/[sourceId]/route.ts DELETE": "token",
  "app/api/v1/sources/[sourceId]/test/route.ts POST": "token",
  "app/api/v1/destinations/[destinationId]/route.ts PUT": "token",
  "app/api/v1/destinations/[destinationId]/route.ts DELETE": "token",
  "app/api/v1/destinations/[destinationId]/test/route.ts POST": "token",
  "app/api/v1/destinations/route.ts POST": "token",
  "app/api/v1/servers/[serverId]/route.ts GET": "token",
  "app/api/v1/servers/route.ts GET": "token",
  "app/api/v1/verifications/route.ts POST": "token",
  "app/api/v1/usage/route.ts GET": "token",
  "app/api/v1/webhooks/route.ts GET": "token",
  "app/api/v1/webhooks/route.ts POST": "token",
  "app/api/v1/webhooks/[channelId]/route.ts GET": "token",
  "app/api/v1/webhooks/[channelId]/route.ts PUT": "token",
  "app/api/v1/webhooks/[channelId]/route.ts DELETE": "token",
  "app/api/v1/webhooks/[channelId]/test/route.ts POST": "token",
  "app/api/v1/webhooks/[channelId]/rotate-secret/route.ts POST": "token",
  "app/api/v1/webhooks/[channelId]/deliveries/route.ts GET": "token",
  "app/api/v1/webhook-deliveries/[deliveryId]/redeliver/route.ts POST": "token",
  "app/api/v1/openapi.json/route.ts GET": "public",
  "app/api/v1/reference/route.ts GET": "public",
  "app/api/v1/reference/scalar.js/route.ts GET": "public",
};

/** The team actions whose input is ids (and a flag, role, fingerprint, prices or retention): called with another team's, each must say NOT_FOUND. */
const idOnlyActions = [
  "acceptHostKeyAction",
  "previewRetentionAction",
  "setPricesAction",
  "resendInvitationAction",
  "revokeInvitationAction",
  "changeRoleAction",
  "removeMemberAction",
  "transferOwnershipAction",
  "backUpNowAction",
  "cancelBackupAction",
  "removeFailedUploadAction",
  "requestRetrievalAction",
  "deleteBackupAction",
  "restoreFromTrashAction",
  "deleteFromTrashAction",
  "restoreDirectoryAction",
  "verifyNowAction",
  "setScheduleEnabledAction",
  "deleteScheduleAction",
  "deleteServerAction",
  "testServerAction",
  "deleteSourceAction",
  "testSourceAction",
  "revokeApiTokenAction",
  "deleteDestinationAction",
  "testDestinationAction",
  "deleteChannelAction",
  "updateChannelAction",
  "setChannelEnabledAction",
  "rotateSecretAction",
  "sendTestAction",
];

/** Team actions that take no ids at all (the team is the slug): the tests above cover them. */
const noIds = [
  "updateTeamAction",
  "leaveTeamAction",
  "inviteAction",
  "updateTeamRetentionAction",
  "setTrashDaysAction",
  "createServerAction",
  "createApiTokenAction",
  "createDestinationAction",
  "createChannelAction",
];

const root = path.resolve(import.meta.dirname, "..");
const httpMethods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

function sourceFiles(dir: string): string[] {
  return readdirSync(path.join(root, dir), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && /\.tsx?$/.test(e.name) && !/\.test\.tsx?$/.test(e.name))
    .map((e) => path.relative(root, path.join(e.parentPath, e.name)));
}

const directive = /^\s*["']use server["'];?\s*$/m;

/** Every exported server action: the functions of files whose first statement is "use server". */
async function foundActions(): Promise<Map<string, (...args: unknown[]) => Promise<unknown>>> {
  const found = new Map<string, (...args: unknown[]) => Promise<unknown>>();
  for (const file of [...sourceFiles("app"), ...sourceFiles("lib")]) {
    const text = readFileSync(path.join(root, file), "utf8");
    if (!directive.test(text)) continue;
    // Inline actions (a directive inside a function) could not be called from here: keep them in actions files.
    expect(text.trimStart(), `${file}: "use server" must be the file's first statement`).toMatch(/^["']use server["']/);
    const mod = (await import(path.join(root, file))) as Record<string, unknown>;
    for (const [name, value] of Object.entries(mod))
      if (typeof value === "function") found.set(`${file}#${name}`, value as (...args: unknown[]) => Promise<unknown>);
  }
  return found;
}

type Handler = (request: Request, ctx: { params: Promise<Record<string, string>> }) => Promise<Response>;

/** Every route handler: the HTTP-method exports of `app/**\/route.ts`. */
async function foundRoutes(): Promise<Map<string, Handler>> {
  const found = new Map<string, Handler>();
  for (const file of sourceFiles("app").filter((f) => /(^|\/)route\.ts$/.test(f))) {
    const mod = (await import(path.join(root, file))) as Record<string, unknown>;
    for (const method of httpMethods)
      if (typeof mod[method] === "function") found.set(`${file} ${method}`, mod[method] as Handler);
  }
  return found;
}

type Caller = "anonymous" | "other team" | "viewer" | "member";
const callers: Caller[] = ["anonymous", "other team", "viewer", "member"];
let cookies: Record<Exclude<Caller, "anonymous">, string>;
let team: string;
let outsiderTeam: string;
/** One of each thing the team owns, by the field name actions take it as. */
let ids: Record<string, unknown>;

beforeAll(async () => {
  const owner = await signedUpUser("Owner");
  const outsider = await signedUpUser("Oscar");
  team = owner.teamSlug;
  const admin = await owner.team("admin");
  const join = async (name: string, role: "viewer" | "member") => {
    const u = await signedUpUser(name);
    const { link } = await createInvitation(admin, { email: u.email, role });
    await acceptInvitation(u.actor, u.email, link.split("/invite/")[1]!);
    return u;
  };
  const [viewer, member] = [await join("Vera", "viewer"), await join("Max", "member")];
  outsiderTeam = outsider.teamSlug;
  const { id: serverId } = await createServer(admin, { kind: "local", name: "matrix-host", workDir: "/var/tmp" });
  const { id: sourceId } = await createSource(admin, {
    serverId,
    kind: "directory",
    name: "etc",
    paths: ["/etc/hostname"],
    excludes: [],
  });
  const { id: destinationId } = await createDestination(admin, { kind: "local", name: "disk", prefix: "matrix" });
  const backupId = await insertBackupRow({
    teamId: admin.id,
    serverId,
    trigger: "manual",
    status: "succeeded",
    encrypted: false,
    fileName: "matrix.tar.gz",
    sourceIds: [sourceId],
    destinationIds: [destinationId],
  });
  const { id: scheduleId } = await createSchedule(admin, {
    name: "nightly",
    serverId,
    sourceIds: [sourceId],
    destinationIds: [destinationId],
    when: { kind: "daily", time: "02:00" },
    timezone: "UTC",
    encrypted: false,
    enabled: false,
    verify: false,
    retention: DEFAULT_POLICY,
  });
  const { id: tokenId } = await createApiToken(admin, { name: "ci", scopes: ["metrics:read"] });
  const { id: channelId } = await createChannel(admin, {
    kind: "webhook",
    url: "http://127.0.0.1:9/x",
    description: "",
    events: [],
  });
  const { id: invitationId } = await createInvitation(admin, { email: "later@example.test", role: "viewer" });
  const memberId = (await listMembers(admin)).find((m) => m.email === member.email)!.id;
  ids = {
    serverId,
    sourceId,
    sourceIds: [sourceId],
    destinationId,
    destinationIds: [destinationId],
    backupId,
    scheduleId,
    tokenId,
    channelId,
    invitationId,
    memberId,
    enabled: true,
    role: "viewer",
    type: "backup.failed",
    members: ["files/etc"],
    targetPath: "/var/tmp/matrix-restore",
    mode: "fresh",
    encrypted: false,
    prices: "",
    retention: DEFAULT_POLICY,
    fingerprint: "SHA256:" + "A".repeat(43),
  };
  cookies = {
    "other team": await sessionCookie(outsider.userId),
    viewer: await sessionCookie(viewer.userId),
    member: await sessionCookie(member.userId),
  };
});

const cookieOf = (c: Caller) => (c === "anonymous" ? undefined : cookies[c]);

/** What each caller must get from something open to `access`, as an error code (null: let through). */
function expected(access: Access, caller: Caller): "UNAUTHENTICATED" | "NOT_FOUND" | "FORBIDDEN" | null {
  if (access === "token" || caller === "anonymous") return "UNAUTHENTICATED";
  if (access === "user") return null;
  if (caller === "other team") return "NOT_FOUND";
  return roleAtLeast(caller, access as Role) ? null : "FORBIDDEN";
}
const statusOf = { UNAUTHENTICATED: 401, NOT_FOUND: 404, FORBIDDEN: 403 } as const;
const teamNotFound = /That team does not exist/;

describe("access matrix, generated from the code", () => {
  it("classifies every server action and route handler found, and nothing that is gone", async () => {
    const [a, r] = [await foundActions(), await foundRoutes()];
    expect(
      [...a.keys()].filter((k) => !(k in actions)),
      "found but not in the matrix",
    ).toEqual([]);
    expect(
      Object.keys(actions).filter((k) => !a.has(k)),
      "in the matrix but not found",
    ).toEqual([]);
    expect(
      [...r.keys()].filter((k) => !(k in routes)),
      "found but not in the matrix",
    ).toEqual([]);
    expect(
      Object.keys(routes).filter((k) => !r.has(k)),
      "in the matrix but not found",
    ).toEqual([]);
  });

  it("every action refuses anonymous callers, other teams and too small a role, and changes nothing", async () => {
    const before = await databaseFingerprint();
    for (const [key, action] of await foundActions()) {
      const access = actions[key];
      if (!access || access === "public") continue; // unlisted: the first test says so
      for (const caller of callers) {
        // Input that no schema accepts: whoever gets past the checks is stopped by validation.
        const call = () => (access === "user" ? action(null) : action(team, null));
        const result = (await inRequest(call, { cookie: cookieOf(caller) })) as {
          ok: boolean;
          error?: { code: string; message: string };
        };
        const want = expected(access, caller);
        expect.soft(result.ok, `${caller} → ${key}`).toBe(false);
        expect.soft(result.error?.code, `${caller} → ${key}`).toBe(want ?? "VALIDATION");
      }
    }
    expect(await databaseFingerprint()).toEqual(before);
  });

  it("another team's ids are not found from one's own team, and nothing changes", async () => {
    const before = await databaseFingerprint();
    const found: string[] = [];
    for (const [key, action] of await foundActions()) {
      const access = actions[key];
      if (!access || access === "public" || access === "user" || noIds.includes(key.split("#")[1]!)) continue;
      // The outsider owns their team, so no role check stops them: only the ids do.
      const result = (await inRequest(() => action(outsiderTeam, ids), { cookie: cookies["other team"] })) as {
        ok: boolean;
        error?: { code: string };
      };
      expect.soft(result.ok, `other team's ids → ${key}`).toBe(false);
      if (result.error?.code === "NOT_FOUND") found.push(key.split("#")[1]!);
      else expect.soft(result.error?.code, `other team's ids → ${key}`).toBe("VALIDATION"); // needs more than ids
    }
    // Every action that takes nothing but ids (and a flag) reached the lookup, and found nothing.
    expect(found.sort()).toEqual(idOnlyActions.sort());
    // Routes with an id in their path: this team's id under the outsider's own team.
    let checked = 0;
    for (const [key, handler] of await foundRoutes()) {
      const [file, method] = key.split(" ") as [string, string];
      const access = routes[key];
      if (!access || access === "public" || access === "token" || !/\[\w+Id\]/.test(file)) continue;
      const params: Record<string, string> = { team: outsiderTeam };
      for (const [, p] of file.matchAll(/\[(\w+Id)\]/g)) params[p!] = String(ids[p!]);
      const url = new URL(
        file.replace(/^app|\/route\.ts$/g, "").replace(/\[(\w+)\]/g, (_, p: string) => params[p]!),
        env().APP_URL,
      );
      const cookie = cookies["other team"];
      // A request the route would otherwise take (JSON, as every id-in-path route that changes state does).
      const body = method === "GET" || method === "HEAD" ? undefined : "{}";
      const headers = { origin: url.origin, cookie, ...(body ? { "content-type": "application/json" } : {}) };
      const request = new Request(url, { method, headers, body });
      const response = await inRequest(() => handler(request, { params: Promise.resolve(params) }), { cookie });
      expect.soft(response.status, `other team's ids → ${key}`).toBe(404);
      expect.soft(await response.text(), `other team's ids → ${key}`).not.toMatch(teamNotFound);
      checked++;
    }
    expect(checked).toBeGreaterThan(0);
    expect(await databaseFingerprint()).toEqual(before);
  });

  it("every team route answers 401, 404 and 403 the same way, and changes nothing", async () => {
    const before = await databaseFingerprint();
    for (const [key, handler] of await foundRoutes()) {
      const access = routes[key];
      if (!access || access === "public") continue;
      const [file, method] = key.split(" ") as [string, string];
      const dynamic = [...file.matchAll(/\[(\w+)\]/g)].map((m) => m[1]!);
      const params = Object.fromEntries(dynamic.map((p) => [p, p === "team" ? team : `${p}_missing`]));
      const url = new URL(
        file
          .replace(/^app/, "")
          .replace(/\/route\.ts$/, "")
          .replace(/\[(\w+)\]/g, (_, p: string) => params[p]!),
        env().APP_URL,
      );
      for (const caller of callers) {
        const cookie = cookieOf(caller);
        const request = new Request(url, {
          method,
          headers: {
            origin: url.origin,
            "sec-fetch-site": "same-origin",
            "content-type": "application/gzip",
            ...(cookie ? { cookie } : {}),
          },
          body: method === "GET" || method === "HEAD" ? undefined : "",
        });
        const response = await inRequest(() => handler(request, { params: Promise.resolve(params) }), { cookie });
        const body = await response.text();
        const want = expected(access, caller);
        if (want) {
          expect.soft(response.status, `${caller} → ${key}: ${body}`).toBe(statusOf[want]);
          if (want === "NOT_FOUND") expect.soft(body, `${caller} → ${key}`).toMatch(teamNotFound);
        } else {
          expect.soft([401, 403], `${caller} → ${key}: ${body}`).not.toContain(response.status);
          expect.soft(body, `${caller} → ${key}`).not.toMatch(teamNotFound);
        }
      }
    }
    expect(await databaseFingerprint()).toEqual(before);
  });
});
