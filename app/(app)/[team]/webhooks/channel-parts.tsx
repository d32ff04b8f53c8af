"use client";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useState } from "react";
import { CheckboxGroup, Field, FormError, TextArea } from "@/app/_components/form";
import { checkedValues, formFields, useAction } from "@/app/_components/use-action";
import type { ChannelView } from "@/lib/webhooks/queries";
import type { ChannelKind } from "@/lib/webhooks/schemas";
import { roleLabels, roles } from "@/lib/teams/roles";
import {
  createChannelAction,
  deleteChannelAction,
  rotateSecretAction,
  sendTestAction,
  setChannelEnabledAction,
  updateChannelAction,
} from "./actions";
import { LocalTime } from "@/app/_components/local-time";

type EventOption = { id: string; name: string };

const kindLabels: Record<ChannelKind, string> = {
  webhook: "Webhook endpoint",
  slack: "Slack",
  discord: "Discord",
  teams: "Microsoft Teams",
  email: "E-mail",
};
const urlHints: Record<Exclude<ChannelKind, "email">, string> = {
  webhook:
    "Coffer POSTs each event there as JSON, signed per Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature). Stored encrypted, as it may carry a token; only its host is shown again.",
  slack:
    "A Slack incoming-webhook URL (https://hooks.slack.com/services/…). Stored encrypted; only its host is shown again.",
  discord:
    "A Discord channel webhook URL (https://discord.com/api/webhooks/…). Stored encrypted; only its host is shown again.",
  teams: "A Microsoft Teams incoming-webhook (Workflows) URL. Stored encrypted; only its host is shown again.",
};

const at = (d: Date | null) => <LocalTime at={d} />;

/** A signing secret, shown this once. */
function SecretOnce({ secret, note }: { secret: string; note: string }) {
  return (
    <div className="rounded-lg border border-emerald-200 bg-emerald-50 p-3 text-sm dark:border-emerald-900 dark:bg-emerald-950">
      <p>{note}</p>
      <input
        readOnly
        value={secret}
        className="input mt-2 font-mono text-xs"
        data-testid="secret-once"
        onFocus={(e) => e.currentTarget.select()}
      />
    </div>
  );
}

function where(c: ChannelView): string {
  if (c.kind === "email")
    return [...c.emailRoles.map((r) => `${roleLabels[r]}s`), ...c.emailAddresses].join(", ") || "nobody";
  return `${c.urlHint} (URL stored encrypted)`;
}

export function ChannelCard({
  slug,
  channel: c,
  events,
}: {
  slug: string;
  channel: ChannelView;
  events: EventOption[];
}) {
  const router = useRouter();
  const refresh = () => router.refresh();
  const [editing, setEditing] = useState(false);
  const [secret, setSecret] = useState<string | null>(null);
  const [tested, setTested] = useState<{
    ok: boolean;
    status: number | null;
    latencyMs: number;
    body: string | null;
    error: string | null;
  } | null>(null);
  const test = useAction(sendTestAction.bind(null, slug), (r) => {
    setTested(r);
    refresh();
  });
  const rotate = useAction(rotateSecretAction.bind(null, slug), (r) => setSecret(r.secret));
  const toggle = useAction(setChannelEnabledAction.bind(null, slug), refresh);
  const remove = useAction(deleteChannelAction.bind(null, slug), refresh);
  const title = c.description || kindLabels[c.kind];
  return (
    <div className="card space-y-3" data-testid={`channel-${title}`}>
      <div className="flex items-start justify-between gap-2">
        <div className="min-w-0">
          <p className="font-medium">{title}</p>
          <p className="muted text-xs break-all">{where(c)}</p>
        </div>
        <span className="badge shrink-0">{kindLabels[c.kind]}</span>
      </div>
      <p className="muted text-xs">
        {c.events.length ? `Events: ${c.events.join(", ")}` : "Events: all"}
        {" · "}Last 24 h: {c.last24h.succeeded ?? 0} delivered, {c.last24h.failed ?? 0} failed, {c.last24h.pending ?? 0}{" "}
        waiting
      </p>
      {!c.enabled ? (
        <p className="text-sm text-red-700 dark:text-red-400" data-testid="channel-disabled">
          Disabled {at(c.disabledAt)}. {c.disabledReason}
        </p>
      ) : (
        c.failingSince && (
          <p className="text-sm text-amber-700 dark:text-amber-400">
            Failing since {at(c.failingSince)}: deliveries are being retried.
          </p>
        )
      )}
      {c.previousSecretUntil && (
        <p className="muted text-xs">The previous secret also signs until {at(c.previousSecretUntil)}.</p>
      )}
      <FormError error={test.error ?? rotate.error ?? toggle.error ?? remove.error} />
      {tested && (
        <p
          data-testid="test-result"
          className={`text-sm ${tested.ok ? "text-emerald-700 dark:text-emerald-400" : "text-red-700 dark:text-red-400"}`}
        >
          {tested.ok ? "Delivered" : "Not delivered"}
          {tested.status !== null && `: answered ${tested.status}`} in {tested.latencyMs} ms.
          {tested.error && ` ${tested.error}`}
          {tested.body && <span className="muted block font-mono text-xs break-all">{tested.body}</span>}
        </p>
      )}
      {secret && (
        <SecretOnce
          secret={secret}
          note="The new signing secret, shown only now. The previous one keeps signing alongside it for 24 hours."
        />
      )}
      <div className="flex flex-wrap gap-2">
        <button
          type="button"
          className="btn-secondary"
          disabled={test.pending}
          onClick={() => test.run({ channelId: c.id })}
        >
          {test.pending ? "Sending…" : "Send test"}
        </button>
        <Link className="btn-secondary" href={`/${slug}/webhooks/${c.id}`}>
          Delivery log
        </Link>
        <button type="button" className="btn-secondary" onClick={() => setEditing(!editing)}>
          {editing ? "Close" : "Edit"}
        </button>
        {c.kind === "webhook" && (
          <button
            type="button"
            className="btn-secondary"
            disabled={rotate.pending}
            onClick={() =>
              confirm("Make a new signing secret? The current one keeps signing for 24 hours.") &&
              rotate.run({ channelId: c.id })
            }
          >
            Rotate secret
          </button>
        )}
        <button
          type="button"
          className="btn-secondary"
          disabled={toggle.pending}
          onClick={() => toggle.run({ channelId: c.id, enabled: !c.enabled })}
        >
          {c.enabled ? "Disable" : "Enable"}
        </button>
        <button
          type="button"
          className="btn-danger"
          disabled={remove.pending}
          onClick={() => confirm(`Delete ${title} and its delivery log?`) && remove.run({ channelId: c.id })}
        >
          Delete
        </button>
      </div>
      {editing && <ChannelForm slug={slug} events={events} channel={c} onDone={() => setEditing(false)} />}
    </div>
  );
}

/**
 * "Add a channel", open at first while the team has none; from then on it opens and closes as the user
 * leaves it. The refresh after a create must not fold it away: the new webhook's secret shows in it, once.
 */
export function AddChannel({
  startOpen,
  ...form
}: {
  startOpen: boolean;
  slug: string;
  events: EventOption[];
  mailConfigured: boolean;
}) {
  const [open, setOpen] = useState(startOpen);
  return (
    <details className="card" open={open} onToggle={(e) => setOpen(e.currentTarget.open)}>
      <summary className="cursor-pointer font-medium">Add a channel</summary>
      <div className="mt-4 max-w-2xl">
        <ChannelForm {...form} />
      </div>
    </details>
  );
}

function ChannelForm({
  slug,
  events,
  channel,
  mailConfigured = true,
  onDone,
}: {
  slug: string;
  events: EventOption[];
  channel?: ChannelView;
  mailConfigured?: boolean;
  onDone?: () => void;
}) {
  const router = useRouter();
  const [kind, setKind] = useState<ChannelKind>(channel?.kind ?? "webhook");
  const [secret, setSecret] = useState<string | null>(null);
  const [form, setForm] = useState<HTMLFormElement | null>(null);
  const create = useAction(createChannelAction.bind(null, slug), (r) => {
    setSecret(r.secret ?? null); // a chat or e-mail channel has none: an earlier webhook's goes
    form?.reset();
    router.refresh();
  });
  const update = useAction(updateChannelAction.bind(null, slug), () => {
    onDone?.();
    router.refresh();
  });
  const { pending, error } = channel ? update : create;
  return (
    <form
      ref={setForm}
      className="space-y-4"
      onSubmit={(e) => {
        e.preventDefault();
        const f = formFields(e.currentTarget);
        const common = {
          description: f.description ?? "",
          events: checkedValues(e.currentTarget, "events"),
          url: f.url ?? "",
          roles: checkedValues(e.currentTarget, "roles"),
          addresses: f.addresses ?? "",
        };
        if (channel) update.run({ ...common, channelId: channel.id } as Parameters<typeof update.run>[0]);
        else create.run({ ...common, kind, secret: f.secret ?? "" } as Parameters<typeof create.run>[0]);
      }}
    >
      <FormError error={error} />
      {!channel && (
        <div>
          <label htmlFor="field-kind" className="label">
            Kind
          </label>
          <select
            id="field-kind"
            className="input"
            value={kind}
            onChange={(e) => setKind(e.target.value as ChannelKind)}
          >
            {(Object.keys(kindLabels) as ChannelKind[]).map((k) => (
              <option key={k} value={k}>
                {kindLabels[k]}
              </option>
            ))}
          </select>
        </div>
      )}
      <Field
        label="Description"
        name="description"
        defaultValue={channel?.description}
        error={error}
        hint="What it is for (optional)."
      />
      {kind !== "email" && (
        <Field
          label="URL"
          name="url"
          required={!channel}
          placeholder={channel ? "Leave empty to keep the stored URL" : "https://"}
          error={error}
          hint={urlHints[kind]}
        />
      )}
      {kind === "webhook" && !channel && (
        <Field
          label="Signing secret (optional)"
          name="secret"
          error={error}
          autoComplete="off"
          hint="Leave empty and Coffer makes one (shown once). Or paste your own: whsec_ and the base64 of 24 to 64 random bytes."
        />
      )}
      {kind === "email" && (
        <>
          {!mailConfigured && (
            <p className="text-sm text-amber-700 dark:text-amber-400">
              E-mail is not configured on this Coffer (SMTP_URL): deliveries to this channel will fail until it is.
            </p>
          )}
          <CheckboxGroup
            legend="Send to members with the role"
            name="roles"
            options={roles.map((r) => ({ id: r, name: `${roleLabels[r]}s` }))}
            isChecked={(r) => !!channel?.emailRoles.includes(r as (typeof roles)[number])}
            error={error}
          />
          <TextArea
            label="And to these addresses"
            name="addresses"
            defaultValue={channel?.emailAddresses.join("\n")}
            error={error}
            hint="One per line. Members can opt out of kinds of e-mail on their Account page."
          />
        </>
      )}
      <CheckboxGroup
        legend="Events (none chosen: all of them)"
        name="events"
        options={events}
        isChecked={(e) => !!channel?.events.includes(e)}
        error={error}
      />
      <button className="btn-primary" disabled={pending}>
        {pending ? "Saving…" : channel ? "Save" : "Add channel"}
      </button>
      {secret && (
        <SecretOnce
          secret={secret}
          note="This endpoint's signing secret, shown only now: give it to the receiver to verify each delivery."
        />
      )}
    </form>
  );
}
