import type { Metadata } from "next";
import Link from "next/link";
import { PageHeader } from "@/app/_components/page-header";
import { articles } from "./articles";

export const metadata: Metadata = { title: "Help" };

export default function HelpIndex() {
  return (
    <>
      <PageHeader title="Help" description="How to back up, keep, download, restore and verify with Coffer." />
      <ul className="space-y-3">
        {articles.map((a) => (
          <li key={a.slug} className="card">
            <Link className="font-medium text-indigo-600 hover:underline dark:text-indigo-400" href={`/help/${a.slug}`}>
              {a.title}
            </Link>
            <p className="muted mt-1 text-sm">{a.summary}</p>
          </li>
        ))}
      </ul>
    </>
  );
}
