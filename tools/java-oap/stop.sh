#!/usr/bin/env bash
# Stops the Java OAP started by start.sh: SIGTERM, then SIGKILL after a grace period.
# Idempotent: no PID file or a dead PID is not an error.
#
#   stop.sh [--data DIR] [--grace SECONDS]
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
data="$here/target/oap-data"
grace=30
while [ $# -gt 0 ]; do
  case "$1" in
    --data) data="$2"; shift 2 ;;
    --grace) grace="$2"; shift 2 ;;
    *) echo "stop.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
done
pid_file="$data/oap.pid"
if [ ! -f "$pid_file" ]; then
  echo "stop.sh: not running (no $pid_file)"
  exit 0
fi
pid="$(cat "$pid_file" 2>/dev/null || true)"
# Only signal the process if it really is an OAP (PIDs get reused).
if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null || ! tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'OAPServerStartUp'; then
  rm -f "$pid_file"
  echo "stop.sh: not running (stale $pid_file)"
  exit 0
fi
kill -TERM "$pid"
deadline=$((SECONDS + grace))
while kill -0 "$pid" 2>/dev/null; do
  if [ $SECONDS -ge $deadline ]; then
    echo "stop.sh: OAP $pid did not stop within ${grace}s; killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
    break
  fi
  sleep 0.2
done
rm -f "$pid_file"
echo "stop.sh: stopped $pid"
