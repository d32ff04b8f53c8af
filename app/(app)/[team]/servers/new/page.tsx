import type { Metadata } from "next";
import { PageHeader } from "@/app/_components/page-header";
import { env } from "@/lib/env";
import { pageTeam } from "@/lib/web/page";
import { ServerForm } from "../server-form";

export const metadata: Metadata = { title: "Add server" };

export default async function NewServerPage({ params }: { params: Promise<{ team: string }> }) {
  const { team } = await params;
  const t = await pageTeam(team, "member");
  return (
    <div className="max-w-2xl">
      <PageHeader
        title="Add server"
        description="Coffer connects with the key or password you give it. The server's host key is pinned on the first successful connection."
      />
      <div className="card">
        <ServerForm slug={t.slug} allowLocal={env().allowLocalServers} />
      </div>
    </div>
  );
}
