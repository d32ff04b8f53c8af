import type { Metadata } from "next";
import { NotBuiltYet } from "@/app/_components/page-header";

export const metadata: Metadata = { title: "Backups" };

export default function Page() {
  return <NotBuiltYet title="Backups" what="Every backup run with its status, size, where it is stored, and whether it is encrypted and verified; download or restore from here." />;
}
