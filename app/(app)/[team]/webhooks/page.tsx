import type { Metadata } from "next";
import { PageHeader } from "@/app/_components/page-header";
import { env } from "@/lib/env";
import { catalogue, eventTypes } from "@/lib/notifications/catalogue";
import { listChannels } from "@/lib/webhooks/queries";
import { pageTeam } from "@/lib/web/page";
import { AddChannel, ChannelCard } from "./channel-parts";

export const metadata: Metadata = { title: "Webhooks" };

export default async function WebhooksPage({ params }: { params: Promise<{ team: string }> }) {
  const { team } = await params;
  const t = await pageTeam(team, "admin");
  const channels = await listChannels(t);
  const events = eventTypes.map((e) => ({ id: e, name: catalogue[e].title }));
  return (
    <div className="space-y-6">
      <PageHeader
        title="Webhooks"
        description="Where Coffer tells you about backups, verifications, restores, retention and stale schedules: signed webhooks (Standard Webhooks), e-mail, Slack, Discord and Microsoft Teams. Failed deliveries are retried for more than a day."
      />
      {channels.length === 0 && (
        <div className="card text-center">
          <p className="font-medium">No notification channels yet</p>
          <p className="muted mt-1">Add one below, then use Send test to see what your receiver answers.</p>
        </div>
      )}
      <div className="grid gap-4 lg:grid-cols-2">
        {channels.map((c) => (
          <ChannelCard key={c.id} slug={t.slug} channel={c} events={events} />
        ))}
      </div>
      <AddChannel slug={t.slug} events={events} mailConfigured={!!env().SMTP_URL} startOpen={channels.length === 0} />
    </div>
  );
}
