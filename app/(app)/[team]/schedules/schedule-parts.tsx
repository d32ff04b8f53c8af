"use client";
import { useRouter } from "next/navigation";
import { useState, useSyncExternalStore } from "react";
import { CheckboxGroup, Field, FormError } from "@/app/_components/form";
import { checkedValues, formFields, useAction } from "@/app/_components/use-action";
import { weekdays, zoneChoices, type Preset } from "@/lib/schedules/cron";
import { DEFAULT_POLICY } from "@/lib/retention/select";
import { describeCompression, type CompressionSetting } from "@/lib/backups/compression";
import { BackUpNowForm, CompressionSelect, EncryptionSelect } from "../backups/backup-parts";
import { encryptionText, type EncryptionFormat } from "@/lib/openpgp/encryption";
import { RetentionFields, retentionFrom } from "./retention-fields";
import type { ScheduleView } from "@/lib/schedules/queries";
import { isDatabaseKind } from "@/lib/servers/schemas";
import type { SourceView } from "@/lib/servers/queries";
import { createScheduleAction, deleteScheduleAction, setScheduleEnabledAction, updateScheduleAction } from "./actions";

type SourceKind = SourceView["kind"];

export interface FormOptions {
  servers: { id: string; name: string }[];
  sources: { id: string; name: string; serverId: string; kind: SourceKind; serverName: string }[];
  destinations: { id: string; name: string }[];
  timeZones: readonly string[];
}

const noSubscription = () => () => {};

/** The browser's time zone (offered even where the list names it otherwise); UTC while rendering on the server and before hydration. */
function useBrowserZone(): string {
  return useSyncExternalStore(
    noSubscription,
    () => Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC",
    () => "UTC",
  );
}

const inZone = (d: Date, timeZone: string) =>
  new Intl.DateTimeFormat("en-GB", {
    timeZone,
    weekday: "short",
    day: "numeric",
    month: "short",
    hour: "2-digit",
    minute: "2-digit",
  }).format(d);

export function ScheduleCard({
  slug,
  schedule: s,
  canEdit,
  options,
}: {
  slug: string;
  schedule: ScheduleView;
  canEdit: boolean;
  options: FormOptions;
}) {
  const router = useRouter();
  const [editing, setEditing] = useState(false);
  const toggle = useAction(setScheduleEnabledAction.bind(null, slug), () => router.refresh());
  const remove = useAction(deleteScheduleAction.bind(null, slug), () => router.refresh());
  return (
    <div className={`card space-y-3 ${editing ? "lg:col-span-2" : ""}`} data-testid={`schedule-${s.name}`}>
      <div className="flex flex-wrap items-start justify-between gap-2">
        <div>
          <p className="font-medium">{s.name}</p>
          <p className="muted text-sm">
            {s.when} ({s.timezone}) · {s.serverName}
          </p>
        </div>
        <div className="flex flex-wrap gap-1">
          {s.encrypted && <span className="badge">Encrypted: {encryptionText[s.encryption]}</span>}
          {s.verify && <span className="badge">Verifies each backup</span>}
          {!s.enabled && <span className="badge">Paused</span>}
        </div>
      </div>
      <p className="text-sm">
        Backs up {s.sources.map((x) => x.name).join(", ")} to {s.destinations.map((x) => x.name).join(", ")}.
      </p>
      <p className="muted text-xs" data-testid="schedule-keeps">
        Retention: {s.keeps}.
      </p>
      <p className="muted text-xs" data-testid="schedule-compression">
        Compression: {describeCompression(s.compression)}.
      </p>
      {s.upcoming.length > 0 && (
        <p className="muted text-xs">
          Next:{" "}
          {s.upcoming
            .map((d, i) =>
              i === 0 && s.overdue
                ? `due since ${inZone(d, s.timezone)} (runs within a minute)`
                : inZone(d, s.timezone),
            )
            .join(" · ")}
        </p>
      )}
      <FormError error={toggle.error ?? remove.error} />
      {canEdit && (
        <BackUpNowForm
          slug={slug}
          options={{
            serverId: s.serverId,
            sources: options.sources.filter((x) => x.serverId === s.serverId),
            destinations: options.destinations,
            selected: {
              sourceIds: s.sources.map((x) => x.id),
              destinationIds: s.destinations.map((x) => x.id),
              encrypted: s.encrypted,
              encryption: s.encryption,
              compression: s.compression,
              verify: s.verify,
              verifySourceId: s.verifySourceId ?? undefined,
            },
          }}
        />
      )}
      {canEdit && (
        <div className="flex flex-wrap gap-2">
          <button
            type="button"
            className="btn-secondary"
            disabled={toggle.pending}
            onClick={() => toggle.run({ scheduleId: s.id, enabled: !s.enabled })}
          >
            {s.enabled ? "Pause" : "Resume"}
          </button>
          <button type="button" className="btn-secondary" onClick={() => setEditing(!editing)}>
            {editing ? "Close" : "Edit"}
          </button>
          <button
            type="button"
            className="btn-danger"
            disabled={remove.pending}
            onClick={() =>
              confirm(`Delete schedule ${s.name}? Existing backups are kept.`) && remove.run({ scheduleId: s.id })
            }
          >
            Delete
          </button>
        </div>
      )}
      {editing && <ScheduleForm slug={slug} options={options} schedule={s} onDone={() => setEditing(false)} />}
    </div>
  );
}

function presetFrom(kind: Preset["kind"], f: Record<string, string>): Preset {
  switch (kind) {
    case "hourly":
      return { kind, minute: Number(f["when.minute"] ?? 0) };
    case "daily":
      return { kind, time: f["when.time"] ?? "02:00" };
    case "weekly":
      return { kind, weekday: Number(f["when.weekday"] ?? 0), time: f["when.time"] ?? "02:00" };
    case "monthly":
      return { kind, day: Number(f["when.day"] ?? 1), time: f["when.time"] ?? "02:00" };
    case "cron":
      return { kind, cron: f["when.cron"] ?? "" };
  }
}

export function ScheduleForm({
  slug,
  options,
  schedule,
  onDone,
}: {
  slug: string;
  options: FormOptions;
  schedule?: ScheduleView;
  onDone?: () => void;
}) {
  const router = useRouter();
  const [serverId, setServerId] = useState(schedule?.serverId ?? options.servers[0]?.id ?? "");
  const [kind, setKind] = useState<Preset["kind"]>(schedule?.preset.kind ?? "daily");
  const browserZone = useBrowserZone();
  const zone = schedule?.timezone ?? browserZone;
  const after = () => {
    onDone?.();
    router.refresh();
  };
  const create = useAction(createScheduleAction.bind(null, slug), after);
  const update = useAction(updateScheduleAction.bind(null, slug), after);
  const { pending, error } = schedule ? update : create;
  const p = schedule?.preset;
  // A new schedule starts with the only source and the only destination there are, if so.
  const checked = (ids: { id: string }[] | undefined, id: string, all: { id: string }[]) =>
    schedule ? (ids?.some((x) => x.id === id) ?? false) : all.length === 1;
  const serverSources = options.sources.filter((s) => s.serverId === serverId);
  const fieldError = (name: string) =>
    error?.fieldErrors?.[name] && (
      <p className="mt-1 text-xs text-red-700 dark:text-red-400">{error.fieldErrors[name]!.join(" ")}</p>
    );
  return (
    <form
      className="space-y-4"
      onSubmit={(e) => {
        e.preventDefault();
        const form = e.currentTarget;
        const f = formFields(form);
        const input = {
          name: f.name ?? "",
          serverId,
          sourceIds: checkedValues(form, "sourceIds"),
          destinationIds: checkedValues(form, "destinationIds"),
          when: presetFrom(kind, f),
          timezone: f.timezone ?? "UTC",
          encrypted: (form.elements.namedItem("encrypted") as HTMLInputElement).checked,
          encryption: (form.elements.namedItem("encryption") as HTMLSelectElement).value as EncryptionFormat,
          enabled: (form.elements.namedItem("enabled") as HTMLInputElement).checked,
          retention: retentionFrom(form),
          verify: (form.elements.namedItem("verify") as HTMLInputElement).checked,
          verifySourceId: f.verifySourceId || undefined,
          compression: (f.compression ?? "fast") as CompressionSetting,
          staleGraceHours: f.staleGraceHours ?? "",
        };
        if (schedule) update.run({ ...input, scheduleId: schedule.id });
        else create.run(input);
      }}
    >
      <FormError error={error} />
      <Field
        label="Schedule name"
        name="name"
        defaultValue={schedule?.name}
        placeholder="nightly"
        required
        error={error}
      />
      <div>
        <label htmlFor="field-serverId" className="label">
          Server
        </label>
        <select id="field-serverId" className="input" value={serverId} onChange={(e) => setServerId(e.target.value)}>
          {options.servers.map((s) => (
            <option key={s.id} value={s.id}>
              {s.name}
            </option>
          ))}
        </select>
      </div>
      <CheckboxGroup
        legend="Sources"
        name="sourceIds"
        options={serverSources}
        isChecked={(id) => checked(schedule?.sources, id, serverSources)}
        empty="This server has no sources yet: add one on its page."
        error={error}
      />
      <CheckboxGroup
        legend="Destinations"
        name="destinationIds"
        options={options.destinations}
        isChecked={(id) => checked(schedule?.destinations, id, options.destinations)}
        error={error}
      />
      <div className="grid gap-4 sm:grid-cols-2">
        <div>
          <label htmlFor="field-kind" className="label">
            Runs
          </label>
          <select
            id="field-kind"
            className="input"
            value={kind}
            onChange={(e) => setKind(e.target.value as Preset["kind"])}
          >
            <option value="hourly">Hourly</option>
            <option value="daily">Daily</option>
            <option value="weekly">Weekly</option>
            <option value="monthly">Monthly</option>
            <option value="cron">Cron expression</option>
          </select>
        </div>
        <div>
          <label htmlFor="field-timezone" className="label">
            Time zone
          </label>
          {/* Keyed by the zone: the browser's replaces the server's UTC once the page runs. */}
          <select key={zone} id="field-timezone" name="timezone" className="input" defaultValue={zone}>
            {zoneChoices(options.timeZones, zone).map((z) => (
              <option key={z}>{z}</option>
            ))}
          </select>
          {fieldError("timezone")}
        </div>
      </div>
      <div className="grid gap-4 sm:grid-cols-2">
        {kind === "hourly" && (
          <Field
            label="At minute"
            name="when.minute"
            type="number"
            min={0}
            max={59}
            defaultValue={p?.kind === "hourly" ? p.minute : 0}
            error={error}
          />
        )}
        {kind === "weekly" && (
          <div>
            <label htmlFor="field-when.weekday" className="label">
              On
            </label>
            <select
              id="field-when.weekday"
              name="when.weekday"
              className="input"
              defaultValue={p?.kind === "weekly" ? p.weekday : 0}
            >
              {weekdays.map((w, i) => (
                <option key={w} value={i}>
                  {w}
                </option>
              ))}
            </select>
          </div>
        )}
        {kind === "monthly" && (
          <Field
            label="On day"
            name="when.day"
            type="number"
            min={1}
            max={28}
            defaultValue={p?.kind === "monthly" ? p.day : 1}
            error={error}
          />
        )}
        {(kind === "daily" || kind === "weekly" || kind === "monthly") && (
          <Field
            label="At"
            name="when.time"
            type="time"
            defaultValue={p && "time" in p ? p.time : "02:00"}
            error={error}
          />
        )}
        {kind === "cron" && (
          <Field
            label="Cron expression"
            name="when.cron"
            defaultValue={p?.kind === "cron" ? p.cron : (schedule?.cron ?? "0 2 * * *")}
            hint="minute hour day-of-month month day-of-week"
            error={error}
          />
        )}
      </div>
      <RetentionFields
        slug={slug}
        policy={schedule?.retention ?? DEFAULT_POLICY}
        scheduleId={schedule?.id}
        error={error}
      />
      <fieldset className="space-y-2">
        <label className="flex items-center gap-2 text-sm">
          <input type="checkbox" name="verify" defaultChecked={schedule?.verify ?? true} /> Verify each backup (restore
          it into a scratch database and compare with the manifest)
        </label>
        <div>
          <label htmlFor="field-verifySourceId" className="label">
            Verify on
          </label>
          <select
            id="field-verifySourceId"
            name="verifySourceId"
            className="input"
            defaultValue={schedule?.verifySourceId ?? ""}
          >
            <option value="">The schedule&apos;s own server, with each database&apos;s own connection</option>
            {options.sources
              .filter((s) => isDatabaseKind(s.kind))
              .map((s) => (
                <option key={s.id} value={s.id}>
                  {s.serverName} › {s.name}
                </option>
              ))}
          </select>
          {fieldError("verifySourceId")}
        </div>
      </fieldset>
      <Field
        label="Stale alert grace (hours)"
        name="staleGraceHours"
        type="number"
        min={0}
        step="any"
        defaultValue={schedule?.staleGraceMinutes === null || !schedule ? "" : schedule.staleGraceMinutes / 60}
        placeholder="one interval"
        error={error}
        hint="The schedule is stale (backup.stale, the Overview's health) when its newest successful backup is older than its interval plus this. Empty: one more interval (two days for a daily schedule)."
      />
      <CompressionSelect defaultValue={schedule?.compression} />
      <EncryptionSelect defaultValue={schedule?.encryption} />
      <div className="flex flex-wrap gap-6 text-sm">
        <label className="flex items-center gap-2">
          <input type="checkbox" name="encrypted" defaultChecked={schedule?.encrypted ?? true} /> Encrypted
        </label>
        <label className="flex items-center gap-2">
          <input type="checkbox" name="enabled" defaultChecked={schedule?.enabled ?? true} /> Enabled
        </label>
      </div>
      <button className="btn-primary" disabled={pending}>
        {pending ? "Saving…" : schedule ? "Save schedule" : "Create schedule"}
      </button>
    </form>
  );
}
