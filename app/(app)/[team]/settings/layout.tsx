import { PageHeader } from "@/app/_components/page-header";
import { SettingsTabs } from "./settings-tabs";

export default async function SettingsLayout({
  children,
  params,
}: {
  children: React.ReactNode;
  params: Promise<{ team: string }>;
}) {
  const { team } = await params;
  return (
    <>
      <PageHeader title="Settings" />
      <SettingsTabs slug={team} />
      <div className="mt-6">{children}</div>
    </>
  );
}
