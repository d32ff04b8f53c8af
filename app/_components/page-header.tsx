export function PageHeader({
  title,
  description,
  children,
}: {
  title: string;
  description?: string;
  children?: React.ReactNode;
}) {
  return (
    <div className="mb-6 flex flex-wrap items-start justify-between gap-4">
      <div>
        <h1 className="text-2xl font-semibold tracking-tight">{title}</h1>
        {description && <p className="muted mt-1 max-w-2xl">{description}</p>}
      </div>
      {children}
    </div>
  );
}

/** For sections of the product that are not built yet: says so plainly instead of pretending. */
export function NotBuiltYet({ title, what }: { title: string; what: string }) {
  return (
    <>
      <PageHeader title={title} />
      <div className="card border-dashed text-center">
        <p className="font-medium">Not available yet</p>
        <p className="muted mx-auto mt-1 max-w-lg">
          {what} This part of Coffer is still being built; nothing here works yet.
        </p>
      </div>
    </>
  );
}
