import type { Metadata } from "next";
import { NotBuiltYet } from "@/app/_components/page-header";

export const metadata: Metadata = { title: "Webhooks" };

export default function Page() {
  return (
    <NotBuiltYet
      title="Webhooks"
      what="Signed webhooks for backup, restore and verification events, with retries and a delivery log."
    />
  );
}
