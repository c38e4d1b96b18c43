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

# shellcheck source=../lib/java-daemon.sh
. "$here/../lib/java-daemon.sh"
stop_daemon "$pid_file" 'dev.swlite.es.EsNode' node "$grace"
