# syntax=docker/dockerfile:1
# oap-lite image. Build from the repository root:
#   docker build -f deploy/docker/oap-lite.Dockerfile -t swlite/oap-lite:0.1.0 .
# Runs `oap-lite.js` (the esbuild bundle of apps/oap-lite; it runs itself, with the V8 flags of
# its first line); configure with the SW_* variables of README.md ("Configuring oap-lite",
# "Running oap-lite on Elasticsearch").

FROM node:20-bookworm AS build
# Toolchain for the native addons that `npm ci` builds (better-sqlite3, libbpf-ts) and for the
# workspace build (tools/setup.sh installs the same from Debian).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      g++ make python3 libbpf-dev libelf-dev zlib1g-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# Native addons compile against the headers of the Node that runs them (tools/setup.sh does the same).
ENV npm_config_nodedir=/usr/local
RUN npm ci --no-audit --no-fund --loglevel=error
RUN npx nx run @swlite/oap-lite:build --outputStyle=static
# The bundle keeps better-sqlite3 (a native addon) external: ship it with its runtime dependency.
RUN mkdir -p /out/node_modules \
 && cp -r apps/oap-lite/dist/. /out/ \
 && cp -r node_modules/better-sqlite3 node_modules/bindings node_modules/file-uri-to-path /out/node_modules/

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    SW_CORE_GRPC_HOST=0.0.0.0 \
    SW_CORE_GRPC_PORT=11800 \
    SW_CORE_REST_HOST=0.0.0.0 \
    SW_CORE_REST_PORT=12800 \
    SW_STORAGE=sqlite \
    SW_STORAGE_SQLITE_DATA_DIR=/data
WORKDIR /app
COPY --from=build /out/ /app/
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 11800 12800
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.SW_CORE_REST_PORT||12800)+'/healthcheck').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["/app/oap-lite.js"]
