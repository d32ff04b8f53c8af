import { expect, test, type APIRequestContext, type BrowserContext } from "@playwright/test";
import { acceptAsNewUser, addLocalServer, invite, signUp, uniqueEmail } from "./helpers";

// Every team-scoped page, with the smallest role allowed to open it (a server page is added once
// the test has made a server), rendered by the production build. Every server action and route
// handler is found in the source and checked by app/access-matrix.int.test.ts.
const teamPages: [path: string, min: "viewer" | "member" | "admin"][] = [
  ["", "viewer"],
  ["/servers", "viewer"],
  ["/servers/new", "member"],
  ["/backups", "viewer"],
  ["/schedules", "viewer"],
  ["/storage", "viewer"],
  ["/webhooks", "admin"],
  ["/settings", "viewer"],
  ["/settings/members", "viewer"],
  ["/settings/api-tokens", "admin"],
  ["/settings/audit", "admin"],
];
const teamRoutes: [path: string, min: "admin"][] = [["/audit-log", "admin"]];

async function status(request: APIRequestContext, url: string) {
  return (await request.get(url, { maxRedirects: 0 })).status();
}

test("access matrix: anonymous 401/sign-in, other team 404, too small a role 403", async ({
  page,
  browser,
  playwright,
}) => {
  const team = await signUp(page, "Owner", uniqueEmail("owner"));
  const serverPath = (await addLocalServer(page, team, "matrix-host")).slice(team.length + 1);
  teamPages.push([serverPath, "viewer"]);
  const viewerEmail = uniqueEmail("vera");
  const viewer = await acceptAsNewUser(browser, await invite(page, team, viewerEmail, "Viewer"), "Vera", viewerEmail);
  const outsiderContext = await browser.newContext();
  const outsiderPage = await outsiderContext.newPage();
  await signUp(outsiderPage, "Oscar", uniqueEmail("oscar"));

  const anonymous = await playwright.request.newContext({ baseURL: test.info().project.use.baseURL });
  const as = (c: BrowserContext) => c.request;

  for (const [path, min] of teamPages) {
    const url = `/${team}${path}`;
    const anon = await anonymous.get(url, { maxRedirects: 0 });
    expect.soft(anon.status(), `anonymous ${url}`).toBe(307);
    expect.soft(anon.headers().location, `anonymous ${url}`).toContain(`/sign-in?next=${encodeURIComponent(url)}`);
    expect.soft(await status(as(outsiderContext), url), `other team ${url}`).toBe(404);
    expect.soft(await status(as(viewer.context), url), `viewer ${url}`).toBe(min === "viewer" ? 200 : 403); // the viewer is below member and admin
    expect.soft(await status(as(page.context()), url), `owner ${url}`).toBe(200);
  }
  for (const [path] of teamRoutes) {
    const url = `/api/teams/${team}${path}`;
    expect.soft(await status(anonymous, url), `anonymous ${url}`).toBe(401);
    expect.soft(await status(as(outsiderContext), url), `other team ${url}`).toBe(404);
    expect.soft(await status(as(viewer.context), url), `viewer ${url}`).toBe(403);
    expect.soft(await status(as(page.context()), url), `owner ${url}`).toBe(200);
  }
  // A team that does not exist looks the same as someone else's.
  expect(await status(as(outsiderContext), "/no-such-team/settings")).toBe(404);
  for (const url of ["/account", "/teams/new"]) expect.soft(await status(anonymous, url), `anonymous ${url}`).toBe(307);

  const csv = await page.context().request.get(`/api/teams/${team}/audit-log`);
  expect(csv.headers()["cache-control"]).toBe("private, no-store");
  expect(await csv.text()).toContain("invitation.accepted");

  await anonymous.dispose();
  await viewer.context.close();
  await outsiderContext.close();
});
