import type { Metadata } from "next";
import { NotBuiltYet } from "@/app/_components/page-header";

export const metadata: Metadata = { title: "Servers" };

export default function Page() {
  return <NotBuiltYet title="Servers" what="Register the servers (over SSH, or this machine) and the PostgreSQL databases and directories on them that you want backed up." />;
}
