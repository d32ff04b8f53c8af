export default function AuthLayout({ children }: { children: React.ReactNode }) {
  return (
    <main className="flex min-h-screen flex-col items-center justify-center px-4 py-12">
      <div className="mb-8 flex items-center gap-2 text-lg font-semibold">
        <span aria-hidden className="grid size-8 place-items-center rounded-lg bg-indigo-600 text-white">
          C
        </span>
        Coffer
      </div>
      <div className="card w-full max-w-sm">{children}</div>
    </main>
  );
}
