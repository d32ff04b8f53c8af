"use client";
import { useSyncExternalStore } from "react";
import { formatDateTime, type DateTimeStyle } from "@/lib/format";

const noChanges = () => () => {};

/**
 * A date and time in the reader's time zone, the full date and time in UTC on hover. The server
 * (and the browser while it hydrates) writes it in UTC, then the browser in its own zone, so the
 * two renders never disagree.
 */
export function LocalTime({ at, style = "minutes" }: { at: Date | string | null | undefined; style?: DateTimeStyle }) {
  const inBrowser = useSyncExternalStore(
    noChanges,
    () => true,
    () => false,
  );
  if (!at) return <>—</>;
  const d = new Date(at);
  return (
    <time dateTime={d.toISOString()} title={formatDateTime(d, "UTC", "seconds")}>
      {formatDateTime(d, inBrowser ? undefined : "UTC", style)}
    </time>
  );
}
