#!/usr/bin/env bash
# npm run dev — installs packages and starts Coffer on the embedded defaults: a PGlite database
# and a generated development master key in ./.data (override with DATA_DIR, DATABASE_URL,
# MASTER_KEYS; see .env.example). Open http://localhost:3000.
set -euo pipefail
cd "$(dirname "$0")/.."
npm install --no-audit --no-fund
exec npx next dev "$@"
