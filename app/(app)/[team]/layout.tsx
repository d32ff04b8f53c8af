import Link from "next/link";
import { signOutAction } from "@/app/(auth)/actions";
import { listTeamsOfUserAllTeams } from "@/lib/teams/queries";
import { rememberLastTeam } from "@/lib/teams/mutations";
import { roleAtLeast, roleLabels } from "@/lib/teams/roles";
import { pageTeam } from "@/lib/web/page";
import { TeamNav } from "./team-nav";

export default async function TeamLayout({
  children,
  params,
}: {
  children: React.ReactNode;
  params: Promise<{ team: string }>;
}) {
  const { team: slug } = await params;
  const t = await pageTeam(slug);
  const teams = await listTeamsOfUserAllTeams(t.actor.userId!);
  await rememberLastTeam(t.actor.userId!, t.id);
  return (
    <div className="min-h-screen md:flex">
      <aside className="border-b border-zinc-200 bg-white md:sticky md:top-0 md:h-screen md:w-60 md:shrink-0 md:border-r md:border-b-0 dark:border-zinc-800 dark:bg-zinc-900">
        <div className="flex items-center justify-between gap-2 p-3 md:block md:space-y-3">
          <details className="group relative md:w-full">
            <summary
              className="flex cursor-pointer list-none items-center gap-2 rounded-lg px-2 py-1.5 hover:bg-zinc-100 dark:hover:bg-zinc-800"
              data-testid="team-switcher"
            >
              <span
                aria-hidden
                className="grid size-7 shrink-0 place-items-center rounded-md bg-indigo-600 text-sm font-semibold text-white"
              >
                {t.name.slice(0, 1).toUpperCase()}
              </span>
              <span className="min-w-0">
                <span className="block truncate text-sm font-semibold">{t.name}</span>
                <span className="block text-xs text-zinc-500 dark:text-zinc-400">
                  {roleLabels[t.role === "system" ? "owner" : t.role]}
                </span>
              </span>
            </summary>
            <div className="absolute z-20 mt-1 w-64 rounded-lg border border-zinc-200 bg-white p-1 shadow-lg dark:border-zinc-800 dark:bg-zinc-900">
              {teams.map((x) => (
                <Link
                  key={x.id}
                  href={`/${x.slug}`}
                  className="block truncate rounded-md px-3 py-2 text-sm hover:bg-zinc-100 dark:hover:bg-zinc-800"
                >
                  {x.name} <span className="text-xs text-zinc-500 dark:text-zinc-400">· {roleLabels[x.role]}</span>
                </Link>
              ))}
              <Link
                href="/teams/new"
                className="block rounded-md px-3 py-2 text-sm font-medium text-indigo-600 hover:bg-zinc-100 dark:text-indigo-400 dark:hover:bg-zinc-800"
              >
                + Create a team
              </Link>
            </div>
          </details>
          <div className="flex items-center gap-1 md:hidden">
            <Link href="/help" className="btn-secondary px-2.5 py-1.5 text-xs">
              Help
            </Link>
            <Link href="/account" className="btn-secondary px-2.5 py-1.5 text-xs">
              Account
            </Link>
          </div>
        </div>
        <TeamNav slug={t.slug} admin={t.role === "system" || roleAtLeast(t.role, "admin")} />
        <div className="hidden border-t border-zinc-200 p-3 md:absolute md:bottom-0 md:block md:w-full dark:border-zinc-800">
          <Link
            href="/account"
            className="block truncate rounded-md px-2 py-1.5 text-sm hover:bg-zinc-100 dark:hover:bg-zinc-800"
          >
            {t.actor.label}
          </Link>
          <Link
            href="/help"
            className="block rounded-md px-2 py-1.5 text-sm text-zinc-600 hover:bg-zinc-100 dark:text-zinc-400 dark:hover:bg-zinc-800"
          >
            Help
          </Link>
          <form action={signOutAction}>
            <button className="w-full rounded-md px-2 py-1.5 text-left text-sm text-zinc-600 hover:bg-zinc-100 dark:text-zinc-400 dark:hover:bg-zinc-800">
              Sign out
            </button>
          </form>
        </div>
      </aside>
      <main className="min-w-0 flex-1 px-4 py-6 md:px-10 md:py-10">{children}</main>
    </div>
  );
}
