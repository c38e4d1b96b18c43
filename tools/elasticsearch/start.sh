#!/usr/bin/env bash
# Starts the single-node test Elasticsearch (8.19, from Maven Central jars; see README.md) in the
# background and waits until it answers. Idempotent: builds only when pom.xml or src/ changed, and
# does nothing when the node recorded in the PID file is already up.
#
#   start.sh [--port N] [--data DIR] [--pid-file F] [--log F] [--timeout SECONDS] [--parent-pid PID]
#   start.sh --build-only        # fetch the Maven dependencies and build, do not start
#
# Environment (same meaning as the flags): SWLITE_ES_PORT (9200), SWLITE_ES_DATA
# (tools/elasticsearch/target/es-data), SWLITE_ES_PID_FILE (DATA/es.pid), SWLITE_ES_LOG
# (DATA/es.log), SWLITE_ES_START_TIMEOUT (120), SWLITE_ES_PARENT_PID (none), SWLITE_ES_HEAP (512m).
# On success prints one line: "ES READY http://127.0.0.1:PORT pid=PID started_in=SECONDS s".
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
port="${SWLITE_ES_PORT:-9200}"
data="${SWLITE_ES_DATA:-$here/target/es-data}"
pid_file="${SWLITE_ES_PID_FILE:-}"
log="${SWLITE_ES_LOG:-}"
timeout="${SWLITE_ES_START_TIMEOUT:-120}"
parent="${SWLITE_ES_PARENT_PID:-}"
heap="${SWLITE_ES_HEAP:-512m}"
build_only=0

while [ $# -gt 0 ]; do
  case "$1" in
    --port) port="$2"; shift 2 ;;
    --data) data="$2"; shift 2 ;;
    --pid-file) pid_file="$2"; shift 2 ;;
    --log) log="$2"; shift 2 ;;
    --timeout) timeout="$2"; shift 2 ;;
    --parent-pid) parent="$2"; shift 2 ;;
    --build-only) build_only=1; shift ;;
    *) echo "start.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
done

die() { echo "start.sh: $*" >&2; exit 1; }

command -v java >/dev/null 2>&1 || die "java not found (need a JDK 17+: apt-get install openjdk-17-jdk-headless)"

jar="$here/target/swlite-es-test-node-1.0.0.jar"
# shellcheck source=../lib/java-daemon.sh
. "$here/../lib/java-daemon.sh"

# Build once; rebuild only when the build inputs are newer than the last successful build.
[ -f "$jar" ] || rm -f "$here/target/.build-stamp"
maven_build "~85 MB" "$here/pom.xml" "$here/src"
[ "$build_only" = 1 ] && exit 0

mkdir -p "$data"
data="$(cd "$data" && pwd)"
pid_file="${pid_file:-$data/es.pid}"
log="${log:-$data/es.log}"
url="http://127.0.0.1:$port"

answers() { curl -s -o /dev/null -m 2 "$url/"; }

old="$(running_pid "$pid_file" answers)"
if [ -n "$old" ]; then
  echo "ES READY $url pid=$old started_in=0 s (already running)"
  exit 0
fi
if answers; then
  die "something already answers on $url but it is not the node in $pid_file; pick another port"
fi

args=(--port "$port" --data "$data")
[ -n "$parent" ] && args+=(--parent-pid "$parent")
mkdir -p "$data/tmp"

t0=$(date +%s.%N)
# setsid: the node must not get the terminal's SIGINT meant for the caller; stop.sh ends it.
setsid java \
  -Xms"$heap" -Xmx"$heap" -XX:+UseSerialGC -Xss1m \
  -Djava.io.tmpdir="$data/tmp" -Djava.awt.headless=true -Dfile.encoding=UTF-8 \
  -Dlog4j2.disable.jmx=true -Dlog4j.shutdownHookEnabled=false \
  -Dswlite.es.modules="$here/target/modules" \
  -cp "$jar:$here/target/lib/*" \
  dev.swlite.es.EsNode "${args[@]}" >"$log" 2>&1 </dev/null &
pid=$!
echo "$pid" >"$pid_file"

ready() { grep -q '^ES READY' "$log" 2>/dev/null && answers; }
wait_ready "$pid" "$pid_file" "$log" "$timeout" "the Elasticsearch node on $url" ready 0.25
echo "ES READY $url pid=$pid started_in=$(seconds_since "$t0") s"
