#!/usr/bin/env bash
# npm run db:check — fails when db/schema has changes that no committed migration contains.
set -euo pipefail
cd "$(dirname "$0")/.."
work=.data/migration-check # drizzle-kit wants paths relative to the project
rm -rf "$work" && mkdir -p "$work"
trap 'rm -rf "$work"' EXIT
cp -r db/migrations "$work/migrations"
cat > "$work/drizzle.config.ts" <<CONFIG
export default { dialect: "postgresql", schema: "./db/schema/index.ts", out: "./$work/migrations" };
CONFIG
out=$(npx drizzle-kit generate --config "$work/drizzle.config.ts" --name drift 2>&1) || { echo "$out" >&2; exit 1; }
# drizzle-kit can print an error and still exit 0: require one of its two success messages.
if ! grep -qE "No schema changes|Your SQL migration file" <<<"$out"; then
  echo "$out" >&2
  exit 1
fi
if ! diff -rq db/migrations "$work/migrations" >/dev/null; then
  echo "db/schema has changes no committed migration contains. Run: npm run db:generate -- --name <what changed>, and commit db/migrations." >&2
  diff -r db/migrations "$work/migrations" | head -40 >&2 || true
  exit 1
fi
echo "Migrations match the schema."
