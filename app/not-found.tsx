import Link from "next/link";

export default function NotFound() {
  return (
    <main className="mx-auto max-w-md px-6 py-24 text-center">
      <p className="text-sm font-semibold text-indigo-600">404</p>
      <h1 className="mt-2 text-2xl font-semibold">Not found</h1>
      <p className="muted mt-2">This page does not exist, or you do not have access to it.</p>
      <Link href="/" className="btn-primary mt-6">
        Go to your team
      </Link>
    </main>
  );
}
