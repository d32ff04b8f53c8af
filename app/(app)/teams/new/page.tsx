import type { Metadata } from "next";
import { pageUser } from "@/lib/web/page";
import { CreateTeamForm } from "./create-team-form";

export const metadata: Metadata = { title: "Create a team" };

export default async function NewTeamPage() {
  await pageUser();
  return (
    <main className="flex min-h-screen items-center justify-center px-4">
      <div className="card w-full max-w-sm space-y-4">
        <h1 className="text-xl font-semibold">Create a team</h1>
        <p className="muted">A team owns servers, schedules, storage and backups. You will be its owner.</p>
        <CreateTeamForm />
      </div>
    </main>
  );
}
