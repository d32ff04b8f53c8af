"use client";
import { useSyncExternalStore } from "react";
import { formatDateTime } from "@/lib/format";

const noChanges = () => () => {};

/**
 * A date and time in the reader's time zone, UTC on hover. The server (and the browser while it
 * hydrates) writes it in UTC, then the browser in its own zone, so the two renders never disagree.
 */
export function LocalTime({ at, seconds = false }: { at: Date | string | null | undefined; seconds?: boolean }) {
  const inBrowser = useSyncExternalStore(
    noChanges,
    () => true,
    () => false,
  );
  if (!at) return <>—</>;
  const d = new Date(at);
  const utc = formatDateTime(d, "UTC", seconds);
  return (
    <time dateTime={d.toISOString()} title={utc}>
      {inBrowser ? formatDateTime(d, undefined, seconds) : utc}
    </time>
  );
}
