import { HelpLink } from "./help-link";

export function PageHeader({
  title,
  description,
  help,
  children,
}: {
  title: string;
  description?: string;
  /** The in-app help article that explains this page, and the link's words. */
  help?: { article: string; label: string };
  children?: React.ReactNode;
}) {
  return (
    <div className="mb-6 flex flex-wrap items-start justify-between gap-4">
      <div>
        <h1 className="text-2xl font-semibold tracking-tight">{title}</h1>
        {description && <p className="muted mt-1 max-w-2xl">{description}</p>}
        {help && (
          <p className="mt-1">
            <HelpLink article={help.article}>{help.label}</HelpLink>
          </p>
        )}
      </div>
      {children}
    </div>
  );
}
