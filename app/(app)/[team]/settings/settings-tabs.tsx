"use client";
import Link from "next/link";
import { usePathname } from "next/navigation";

const tabs = [
  { href: "", label: "General" },
  { href: "/members", label: "Members" },
  { href: "/api-tokens", label: "API tokens", admin: true },
  { href: "/audit", label: "Audit log", admin: true },
];

export function SettingsTabs({ slug, admin }: { slug: string; admin: boolean }) {
  const pathname = usePathname();
  return (
    <nav aria-label="Settings" className="flex flex-wrap gap-x-1 border-b border-zinc-200 dark:border-zinc-800">
      {tabs
        .filter((tab) => admin || !tab.admin)
        .map((tab) => {
          const href = `/${slug}/settings${tab.href}`;
          const active = pathname === href;
          return (
            <Link
              key={tab.href}
              href={href}
              aria-current={active ? "page" : undefined}
              className={`-mb-px shrink-0 border-b-2 px-3 py-2 text-sm ${active ? "border-indigo-600 font-medium text-indigo-700 dark:text-indigo-300" : "border-transparent text-zinc-600 hover:text-zinc-900 dark:text-zinc-400 dark:hover:text-zinc-100"}`}
            >
              {tab.label}
            </Link>
          );
        })}
    </nav>
  );
}
