#!/usr/bin/env bash
# Stops the test Elasticsearch started by start.sh: SIGTERM (the node closes cleanly), then SIGKILL
# after a grace period. Idempotent: no PID file or a dead PID is not an error.
#
#   stop.sh [--data DIR] [--pid-file F] [--grace SECONDS]
# Environment: SWLITE_ES_DATA, SWLITE_ES_PID_FILE (same defaults as start.sh).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
data="${SWLITE_ES_DATA:-$here/target/es-data}"
pid_file="${SWLITE_ES_PID_FILE:-}"
grace=30

while [ $# -gt 0 ]; do
  case "$1" in
    --data) data="$2"; shift 2 ;;
    --pid-file) pid_file="$2"; shift 2 ;;
    --grace) grace="$2"; shift 2 ;;
    *) echo "stop.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
done
pid_file="${pid_file:-$data/es.pid}"

if [ ! -f "$pid_file" ]; then
  echo "stop.sh: not running (no $pid_file)"
  exit 0
fi
pid="$(cat "$pid_file" 2>/dev/null || true)"
# Only signal the process if it is really our node (PIDs get reused).
if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null || ! tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'dev.swlite.es.EsNode'; then
  rm -f "$pid_file"
  echo "stop.sh: not running (stale $pid_file)"
  exit 0
fi

kill -TERM "$pid"
deadline=$((SECONDS + grace))
while kill -0 "$pid" 2>/dev/null; do
  if [ $SECONDS -ge $deadline ]; then
    echo "stop.sh: node $pid did not stop within ${grace}s; killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
    break
  fi
  sleep 0.2
done
rm -f "$pid_file"
echo "stop.sh: stopped $pid"
