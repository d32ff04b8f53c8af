#!/usr/bin/env bash
# npm test — every check CI runs, from a fresh Debian/Ubuntu machine: installs what is missing,
# then lint, types, migration drift, unit + integration tests (PostgreSQL and PGlite), build, e2e.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/system-deps.sh test
npm install --no-audit --no-fund
npm run lint
npm run typecheck
npm run db:check
npx vitest run
npx next build
npx playwright test
