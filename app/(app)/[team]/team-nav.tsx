"use client";
import Link from "next/link";
import { usePathname } from "next/navigation";

const items = [
  { href: "", label: "Overview" },
  { href: "/servers", label: "Servers" },
  { href: "/backups", label: "Backups" },
  { href: "/schedules", label: "Schedules" },
  { href: "/storage", label: "Storage" },
  { href: "/webhooks", label: "Webhooks", admin: true },
  { href: "/settings", label: "Settings" },
];

export function TeamNav({ slug, admin }: { slug: string; admin: boolean }) {
  const pathname = usePathname();
  return (
    // Wraps on a phone: every item stays on screen (a sideways-scrolling strip hid the last ones).
    <nav aria-label="Team" className="flex flex-wrap gap-1 px-3 pb-3 md:flex-col">
      {items
        .filter((item) => admin || !item.admin)
        .map((item) => {
          const href = `/${slug}${item.href}`;
          const active = item.href === "" ? pathname === href : pathname.startsWith(href);
          return (
            <Link
              key={item.href}
              href={href}
              aria-current={active ? "page" : undefined}
              className={`shrink-0 rounded-md px-3 py-1.5 text-sm ${active ? "bg-indigo-50 font-medium text-indigo-700 dark:bg-indigo-950 dark:text-indigo-300" : "text-zinc-700 hover:bg-zinc-100 dark:text-zinc-300 dark:hover:bg-zinc-800"}`}
            >
              {item.label}
            </Link>
          );
        })}
    </nav>
  );
}
