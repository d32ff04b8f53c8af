import type { Metadata } from "next";
import { scopeInfo, scopes } from "@/lib/api-tokens/scopes";
import { listApiTokens } from "@/lib/api-tokens/tokens";
import { pageTeam } from "@/lib/web/page";
import { CreateTokenForm, RevokeTokenButton } from "./token-forms";
import { TableScroll } from "@/app/_components/table-scroll";
import { LocalTime } from "@/app/_components/local-time";

export const metadata: Metadata = { title: "API tokens" };

const at = (d: Date | null) => <LocalTime at={d} />;

export default async function ApiTokensPage({ params }: { params: Promise<{ team: string }> }) {
  const { team } = await params;
  const t = await pageTeam(team, "admin");
  const tokens = await listApiTokens(t);
  const now = new Date();
  return (
    <div className="space-y-6">
      <section className="card space-y-3">
        <h2 className="font-semibold">Create a token</h2>
        <p className="muted">
          A token acts for this team with the scopes you give it, and never with more than your own role. It is shown
          once; Coffer keeps only its hash. Send it as{" "}
          <code className="font-mono text-xs">Authorization: Bearer coffer_…</code>. Every endpoint is in the{" "}
          {/* A route handler's page, not the app's: a full page load, which <Link> would not do. */}
          {/* eslint-disable-next-line @next/next/no-html-link-for-pages */}
          <a className="text-indigo-600 hover:underline dark:text-indigo-400" href="/api/v1/reference">
            API reference
          </a>{" "}
          (and its{" "}
          <a className="text-indigo-600 hover:underline dark:text-indigo-400" href="/api/v1/openapi.json">
            OpenAPI document
          </a>
          ).
        </p>
        <CreateTokenForm slug={t.slug} scopes={scopes.map((s) => ({ id: s, name: `${s} — ${scopeInfo[s].label}` }))} />
      </section>
      <TableScroll label="API tokens" className="card p-0">
        <table className="w-full text-left text-sm" data-testid="api-tokens">
          <thead className="border-b border-zinc-200 text-xs text-zinc-500 dark:text-zinc-400 uppercase dark:border-zinc-800">
            <tr>
              <th className="px-5 py-3 font-medium">Token</th>
              <th className="px-5 py-3 font-medium">Scopes</th>
              <th className="px-5 py-3 font-medium">Created</th>
              <th className="px-5 py-3 font-medium">Last used</th>
              <th className="px-5 py-3 font-medium">Expires</th>
              <th className="px-5 py-3 font-medium" />
            </tr>
          </thead>
          <tbody className="divide-y divide-zinc-200 dark:divide-zinc-800">
            {tokens.length === 0 && (
              <tr>
                <td colSpan={6} className="muted px-5 py-6 text-center">
                  No API tokens yet.
                </td>
              </tr>
            )}
            {tokens.map((k) => {
              const expired = !!k.expiresAt && k.expiresAt <= now;
              return (
                <tr key={k.id} data-testid={`token-${k.name}`}>
                  <td className="px-5 py-3 align-top">
                    <div className="font-medium">{k.name}</div>
                    <div className="muted font-mono text-xs">{k.prefix}…</div>
                  </td>
                  <td className="px-5 py-3 align-top">
                    {k.scopes.join(", ")}
                    {k.role && <div className="muted text-xs">acts as {k.role}</div>}
                  </td>
                  <td className="muted px-5 py-3 align-top text-xs">
                    {at(k.createdAt)}
                    <div>by {k.createdBy}</div>
                  </td>
                  <td className="muted px-5 py-3 align-top text-xs" data-testid="last-used">
                    {k.lastUsedAt ? (
                      <>
                        {at(k.lastUsedAt)}
                        {k.lastUsedIp ? ` from ${k.lastUsedIp}` : ""}
                      </>
                    ) : (
                      "never"
                    )}
                  </td>
                  <td className="muted px-5 py-3 align-top text-xs">{k.expiresAt ? at(k.expiresAt) : "never"}</td>
                  <td className="px-5 py-3 align-top">
                    {k.revokedAt ? (
                      <span className="badge" data-testid="revoked">
                        revoked {at(k.revokedAt)}
                      </span>
                    ) : expired ? (
                      <span className="badge">expired</span>
                    ) : (
                      <>
                        {!k.role && (
                          <span className="badge mb-2 block" data-testid="creator-left">
                            stopped: its creator left the team
                          </span>
                        )}
                        {/* Revoking a stopped token keeps it stopped should its creator join again. */}
                        <RevokeTokenButton slug={t.slug} tokenId={k.id} name={k.name} />
                      </>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </TableScroll>
    </div>
  );
}
