# syntax=docker/dockerfile:1
# Coffer's image: the Next.js standalone server (`node server.js`) run by a non-root user, with the
# tools backups and restores of "This Coffer host" call: pg_dump/psql, tar, gzip, pigz, igzip.
# Build: docker build -t coffer .   Run: see compose.yaml and README.md ("Running it for real").

ARG NODE_VERSION=22
# pg_dump must not be older than the PostgreSQL it dumps: the PostgreSQL project's Debian
# repository has every client version (Debian bookworm's own postgresql-client is 15).
ARG PG_CLIENT_VERSION=17

FROM node:${NODE_VERSION}-bookworm-slim AS deps
WORKDIR /app
# ssh2 compiles its optional native crypto binding during install (faster SSH transfers).
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm install --no-audit --no-fund

FROM deps AS build
COPY . .
ENV NEXT_TELEMETRY_DISABLED=1
# Writes .next/standalone: server.js with the node_modules files it loads (traced), including
# PGlite's WASM and data files, ssh2's native binding and db/migrations (next.config.ts).
RUN npx next build

FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ARG PG_CLIENT_VERSION
RUN apt-get update \
  && apt-get install -y --no-install-recommends ca-certificates postgresql-common \
  && /usr/share/postgresql-common/pgdg/apt.postgresql.org.sh -y \
  && apt-get install -y --no-install-recommends "postgresql-client-${PG_CLIENT_VERSION}" tar gzip pigz isal tini \
  && rm -rf /var/lib/apt/lists/* \
  && groupadd --system --gid 10001 coffer \
  && useradd --system --uid 10001 --gid coffer --home-dir /data --shell /usr/sbin/nologin coffer \
  && mkdir -p /data && chown coffer:coffer /data && chmod 700 /data
WORKDIR /app
# The application files belong to root, so the server cannot change its own code.
COPY --from=build /app/.next/standalone ./
COPY --from=build /app/.next/static ./.next/static
RUN mkdir -p .next/cache && chown coffer:coffer .next/cache
# NEXT_MANUAL_SIG_HANDLE: SIGTERM reaches Coffer, which hands its runs back before exiting.
ENV NODE_ENV=production \
  NEXT_MANUAL_SIG_HANDLE=true \
  NEXT_TELEMETRY_DISABLED=1 \
  HOSTNAME=0.0.0.0 \
  PORT=3000 \
  DATA_DIR=/data
USER coffer
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.PORT}/api/health`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# tini forwards SIGTERM to Node and reaps the tar/pg_dump pipelines of local backups.
# --no-incremental-marking: a restore's Buffers kept V8 marking back to back (docs/design/archive.md#where-the-time-goes).
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "--no-incremental-marking", "server.js"]
