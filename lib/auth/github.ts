import "server-only";

export const GITHUB_API = "https://api.github.com";

interface GitHubEmail {
  email: string;
  primary: boolean;
  verified: boolean;
}

/**
 * GitHub's user for Auth.js (its provider's `userinfo.request`), its `email` the primary address
 * only once GitHub has verified it, else null, which refuses the sign-in: Auth.js's own request
 * takes the public address, else the primary or first one whether verified or not, and Coffer
 * treats an address an OAuth provider gives as confirmed (invitations go by it).
 */
export async function verifiedGitHubUser(
  tokens: { access_token?: string },
  apiBaseUrl = GITHUB_API,
): Promise<Record<string, unknown>> {
  const headers = {
    Authorization: `Bearer ${tokens.access_token}`,
    Accept: "application/vnd.github+json",
    "User-Agent": "coffer",
  };
  const user = await fetch(`${apiBaseUrl}/user`, { headers });
  if (!user.ok) throw new Error(`GitHub answered ${user.status} for the signed-in user.`);
  const emails = await fetch(`${apiBaseUrl}/user/emails`, { headers });
  const list = emails.ok ? ((await emails.json()) as GitHubEmail[]) : [];
  const primary = list.find((e) => e.primary && e.verified);
  return { ...((await user.json()) as Record<string, unknown>), email: primary?.email ?? null };
}
