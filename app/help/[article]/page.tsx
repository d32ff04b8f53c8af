import type { Metadata } from "next";
import { notFound } from "next/navigation";
import { PageHeader } from "@/app/_components/page-header";
import { articleBySlug } from "../articles";

type Props = { params: Promise<{ article: string }> };

export async function generateMetadata({ params }: Props): Promise<Metadata> {
  return { title: articleBySlug((await params).article)?.title ?? "Help" };
}

export default async function HelpArticle({ params }: Props) {
  const article = articleBySlug((await params).article);
  if (!article) notFound();
  return (
    <article>
      <PageHeader title={article.title} description={article.summary} />
      <div className="card space-y-3 text-sm leading-6">{article.body}</div>
    </article>
  );
}
