import Link from "next/link";

export default function Forbidden() {
  return (
    <main className="mx-auto max-w-md px-6 py-24 text-center">
      <p className="text-sm font-semibold text-indigo-600">403</p>
      <h1 className="mt-2 text-2xl font-semibold">Not allowed</h1>
      <p className="muted mt-2">Your role in this team does not allow this. Ask a team owner or admin.</p>
      <Link href="/" className="btn-primary mt-6">
        Go to your team
      </Link>
    </main>
  );
}
