/**
 * Every wide table sits in this: it scrolls sideways inside its own box (never the page), shows a
 * shadow on the side that has more columns (globals.css `scroll-shadows`), and is a labelled,
 * focusable region so keyboard users can scroll it too. Headings and the first column stay on one
 * line, and a long value that may break anywhere (an object key) keeps a readable width instead of
 * shrinking to a sliver that makes its row hundreds of pixels tall.
 */
export function TableScroll({
  label,
  className = "",
  children,
}: {
  label: string;
  className?: string;
  children: React.ReactNode;
}) {
  return (
    <div
      role="region"
      aria-label={label}
      tabIndex={0}
      className={`scroll-shadows overflow-x-auto [&_.break-all]:min-w-64 [&_td:first-child]:whitespace-nowrap [&_th]:whitespace-nowrap ${className}`}
    >
      {children}
    </div>
  );
}
