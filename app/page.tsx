import { redirect } from "next/navigation";
import { currentUser } from "@/lib/auth/session";
import { homeTeamSlug } from "@/lib/teams/queries";

export default async function Home() {
  const user = await currentUser();
  if (!user) redirect("/sign-in");
  const slug = await homeTeamSlug(user.userId);
  redirect(slug ? `/${slug}` : "/teams/new");
}
