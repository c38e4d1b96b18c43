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
# shellcheck source=../lib/java-daemon.sh
. "$here/../lib/java-daemon.sh"
stop_daemon "$pid_file" 'OAPServerStartUp' OAP "$grace"
