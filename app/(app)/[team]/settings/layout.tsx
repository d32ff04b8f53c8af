import { PageHeader } from "@/app/_components/page-header";
import { roleAtLeast } from "@/lib/teams/roles";
import { pageTeam } from "@/lib/web/page";
import { SettingsTabs } from "./settings-tabs";

export default async function SettingsLayout({
  children,
  params,
}: {
  children: React.ReactNode;
  params: Promise<{ team: string }>;
}) {
  const { team } = await params;
  const t = await pageTeam(team);
  return (
    <>
      <PageHeader title="Settings" />
      <SettingsTabs slug={t.slug} admin={t.role === "system" || roleAtLeast(t.role, "admin")} />
      <div className="mt-6">{children}</div>
    </>
  );
}
