import Link from "next/link";

/** A link to the in-app help article that explains the page it sits on (app/help/articles). */
export function HelpLink({ article, children }: { article: string; children: React.ReactNode }) {
  return (
    <Link className="text-sm text-indigo-600 hover:underline dark:text-indigo-400" href={`/help/${article}`}>
      {children}
    </Link>
  );
}
