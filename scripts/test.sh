#!/usr/bin/env bash
# npm test — every check CI runs, from a fresh Debian/Ubuntu machine: installs what is missing,
# then lint, types, migration drift, unit + integration tests (PostgreSQL and PGlite), build, e2e.
set -euo pipefail
cd "$(dirname "$0")/.."

# The tests' scratch folders (database clusters, servers, archives) all go under one folder that is
# removed when the run ends, passed or failed. Writable by everyone with the sticky bit, as /tmp
# is: the PostgreSQL and SSH test users work in it too.
TMPDIR=$(mktemp -d "${TMPDIR:-/tmp}/coffer-test-run-XXXXXX")
chmod 1777 "$TMPDIR"
export TMPDIR
trap 'rm -rf -- "$TMPDIR"' EXIT

bash scripts/system-deps.sh test
npm install --no-audit --no-fund
npm run lint
npm run typecheck
npm run db:check
npx vitest run
npx next build
npx playwright test
