import type { Metadata } from "next";
import { NotBuiltYet } from "@/app/_components/page-header";

export const metadata: Metadata = { title: "API tokens" };

export default function Page() {
  return (
    <NotBuiltYet
      title="API tokens"
      what="Team-scoped tokens for the REST API, with read or write scope and an expiry."
    />
  );
}
