import type { Metadata } from "next";
import { NotBuiltYet } from "@/app/_components/page-header";

export const metadata: Metadata = { title: "Storage" };

export default function Page() {
  return <NotBuiltYet title="Storage" what="Where backups are stored: this host's disk, a server's backup folder, Amazon S3 and compatible services, Google Cloud Storage and Azure Blob." />;
}
