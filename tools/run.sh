#!/usr/bin/env bash
# The main job: oap-lite on its embedded storage plus rover profiling this host, in the
# foreground; Ctrl-C (or SIGTERM) stops both, rover first so it detaches its BPF programs.
# Configure with SW_* (oap-lite) and ROVER_* (rover) variables; see README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh

export SW_STORAGE_SQLITE_DATA_DIR="${SW_STORAGE_SQLITE_DATA_DIR:-$PWD/data}"
rest_port="${SW_CORE_REST_PORT:-12800}"
grpc_port="${SW_CORE_GRPC_PORT:-11800}"
export ROVER_BACKEND_ADDR="${ROVER_BACKEND_ADDR:-127.0.0.1:$grpc_port}"

apps/oap-lite/dist/oap-lite.js &  # runs itself: its first line carries the V8 flags chosen for it
oap=$!
rover=""
stop() {
  trap - INT TERM EXIT
  [ -n "$rover" ] && kill -TERM "$rover" 2>/dev/null && wait "$rover" 2>/dev/null || true
  kill -TERM "$oap" 2>/dev/null && wait "$oap" 2>/dev/null || true
}
trap stop INT TERM EXIT

for _ in $(seq 1 60); do
  curl -sf "http://127.0.0.1:$rest_port/healthcheck" >/dev/null 2>&1 && break
  kill -0 "$oap" 2>/dev/null || { echo "run: oap-lite exited; see its log above" >&2; exit 1; }
  sleep 0.5
done

apps/rover/dist/rover.js &  # runs itself: its first line carries the V8 flags chosen for it
rover=$!
cat <<MSG
run: oap-lite  GraphQL http://127.0.0.1:$rest_port/graphql  (agents on :$grpc_port, data in $SW_STORAGE_SQLITE_DATA_DIR)
run: rover     reporting this host's processes to $ROVER_BACKEND_ADDR
run: profile a service:  node --import tsx apps/cli/src/main.ts services   (Ctrl-C stops both)
MSG
wait -n "$oap" "$rover"
