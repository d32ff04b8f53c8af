import { formatBytes, formatDuration } from "../format";
import { catalogue, type Envelope, type EventType } from "./catalogue";

/** An event in words, the common ground of the chat and e-mail formats. */
export interface Message {
  title: string;
  tone: "good" | "bad" | "warning";
  facts: [label: string, value: string][];
  error: string | null;
  url: string;
}

const when = (iso: string | null) => (iso ? `${iso.slice(0, 16).replace("T", " ")} UTC` : "never");
const size = (n: number | null) => (n === null ? "—" : formatBytes(n));
const took = (s: number | null) => (s === null ? "—" : formatDuration(s * 1000));
const on = (schedule: { name: string } | null, server: { name: string }) =>
  schedule ? `${server.name} (${schedule.name})` : server.name;

type Describe = { [K in EventType]: (e: Envelope<K>) => Omit<Message, "title"> & { subject: string } };

const describeByType: Describe = {
  "backup.succeeded": ({ data: d }) => ({
    subject: on(d.schedule, d.server),
    tone: "good",
    facts: [
      ["Server", d.server.name],
      ["Schedule", d.schedule?.name ?? "none (on demand)"],
      ["Size", size(d.backup.sizeBytes)],
      ["Duration", took(d.backup.durationSeconds)],
      ["Stored in", d.destinations.map((x) => x.name).join(", ") || "—"],
    ],
    error: null,
    url: d.backup.url,
  }),
  "backup.failed": ({ data: d }) => ({
    subject: on(d.schedule, d.server),
    tone: "bad",
    facts: [
      ["Server", d.server.name],
      ["Schedule", d.schedule?.name ?? "none (on demand)"],
      ["Duration", took(d.backup.durationSeconds)],
    ],
    error: d.backup.error,
    url: d.backup.url,
  }),
  "backup.stale": ({ data: d }) => ({
    subject: `${d.schedule.name} on ${d.server.name}`,
    tone: "warning",
    facts: [
      ["Server", d.server.name],
      ["Schedule", d.schedule.name],
      ["Last success", when(d.lastSuccessAt)],
      ["Stale after", took(d.staleAfterSeconds)],
    ],
    error: null,
    url: d.schedule.url,
  }),
  "backup.recovered": ({ data: d }) => ({
    subject: `${d.schedule.name} on ${d.server.name}`,
    tone: "good",
    facts: [
      ["Server", d.server.name],
      ["Schedule", d.schedule.name],
      ["Stale since", when(d.staleSince)],
      ["New backup", `${size(d.backup.sizeBytes)} at ${when(d.backup.finishedAt)}`],
    ],
    error: null,
    url: d.backup.url,
  }),
  "verification.succeeded": ({ data: d }) => verification(d, "good"),
  "verification.failed": ({ data: d }) => verification(d, "bad"),
  "restore.succeeded": ({ data: d }) => restore(d, "good"),
  "restore.failed": ({ data: d }) => restore(d, "bad"),
  "retention.applied": ({ data: d }) => ({
    subject: d.schedule?.name ?? (d.server ? `${d.server.name} (unscheduled backups)` : "—"),
    tone: d.problems ? "warning" : "good",
    facts: [
      ["Moved to the trash", String(d.trashed.count)],
      ["Deleted after their time in the trash", String(d.expired.count)],
      ["Moved to a colder class", String(d.moved.count)],
      ...(d.problems ? [["Not done yet (retried next run)", String(d.problems)] as [string, string]] : []),
    ],
    error: null,
    url: d.url,
  }),
  "destination.failing": ({ data: d }) => ({
    subject: d.destination.name,
    tone: "bad",
    facts: [
      ["Destination", d.destination.name],
      ["Server", d.server.name],
    ],
    error: d.error,
    url: d.url,
  }),
};

function verification(d: Envelope<"verification.failed">["data"], tone: Message["tone"]) {
  return {
    subject: d.server.name,
    tone,
    facts: [
      ["Server", d.server.name],
      ["Tables", String(d.verification.tables)],
      ["Files", String(d.verification.files)],
      ["Differences", String(d.verification.differences)],
      ["Duration", took(d.verification.durationSeconds)],
    ] as [string, string][],
    error: d.verification.error,
    url: d.verification.url,
  };
}

function restore(d: Envelope<"restore.failed">["data"], tone: Message["tone"]) {
  return {
    subject: `${d.restore.target ?? "—"} on ${d.server.name}`,
    tone,
    facts: [
      ["What", d.restore.kind === "database" ? "A database" : "Folders"],
      ["Into", d.restore.target ?? "—"],
      ["Server", d.server.name],
      ["Duration", took(d.restore.durationSeconds)],
    ] as [string, string][],
    error: d.restore.error,
    url: d.restore.url,
  };
}

export function describeEvent(e: Envelope): Message {
  const { subject, ...rest } = (describeByType[e.type] as (x: Envelope) => ReturnType<Describe[EventType]>)(e);
  return { title: `${e.test ? "[Test] " : ""}${catalogue[e.type].title}: ${subject}`, ...rest };
}

/** The plain-text e-mail of an event. */
export function emailOf(e: Envelope, accountUrl: string): { subject: string; text: string } {
  const m = describeEvent(e);
  const lines = [
    m.title,
    "",
    ...m.facts.map(([label, value]) => `${label}: ${value}`),
    ...(m.error ? ["", `Error: ${m.error}`] : []),
    "",
    `Open in Coffer: ${m.url}`,
    "",
    "--",
    `You get this e-mail as a member of ${e.team.name} on Coffer. Choose which e-mails you get: ${accountUrl}`,
  ];
  return { subject: `[Coffer] ${m.title} — ${e.team.name}`, text: `${lines.join("\n")}\n` };
}
