import Link from "next/link";

export default function HelpLayout({ children }: { children: React.ReactNode }) {
  return (
    <div className="mx-auto max-w-3xl px-4 py-8">
      <nav className="mb-6 flex items-center justify-between text-sm">
        <Link className="font-semibold" href="/help">
          Coffer help
        </Link>
        <Link className="text-indigo-600 hover:underline dark:text-indigo-400" href="/">
          Back to Coffer
        </Link>
      </nav>
      {children}
    </div>
  );
}
