import type { Metadata } from "next";
import { NotBuiltYet } from "@/app/_components/page-header";

export const metadata: Metadata = { title: "Schedules" };

export default function Page() {
  return <NotBuiltYet title="Schedules" what="Schedules take backups on a cron expression in your time zone and keep them under a grandfather–father–son retention policy." />;
}
