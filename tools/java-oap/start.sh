#!/usr/bin/env bash
# Starts the Java SkyWalking OAP 10.1.0 (Maven Central jars, see README.md) on an Elasticsearch
# node in the background and waits until its GraphQL port answers. Builds (fetches the jars)
# once; does nothing when the OAP recorded in the PID file is already up.
#
#   start.sh --es URL [--grpc-port N] [--http-port N] [--data DIR] [--timeout SECONDS] [--parent-pid PID]
#   start.sh --build-only        # fetch the jars from Maven Central, do not start
#
# The OAP's config folder is not in this repository: set SWLITE_JAVA_OAP_CONFIG to the upstream
# source tree's oap-server/server-starter/src/main/resources at tag v10.1.0.
# Environment: SWLITE_JAVA_OAP_CONFIG (required to start), SWLITE_JAVA_OAP_HEAP (768m),
# SWLITE_JAVA_OAP_START_TIMEOUT (300). Every SW_* variable reaches the OAP's application.yml.
# On success prints one line: "JAVA OAP READY http=PORT grpc=PORT pid=PID started_in=SECONDS s".
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
es=""
grpc_port=11800
http_port=12800
data="$here/target/oap-data"
timeout="${SWLITE_JAVA_OAP_START_TIMEOUT:-300}"
parent=""
heap="${SWLITE_JAVA_OAP_HEAP:-768m}"
build_only=0

while [ $# -gt 0 ]; do
  case "$1" in
    --es) es="$2"; shift 2 ;;
    --grpc-port) grpc_port="$2"; shift 2 ;;
    --http-port) http_port="$2"; shift 2 ;;
    --data) data="$2"; shift 2 ;;
    --timeout) timeout="$2"; shift 2 ;;
    --parent-pid) parent="$2"; shift 2 ;;
    --build-only) build_only=1; shift ;;
    *) echo "start.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
done

die() { echo "start.sh: $*" >&2; exit 1; }

command -v java >/dev/null 2>&1 || die "java not found (need a JDK 11+: apt-get install openjdk-17-jdk-headless)"
# shellcheck source=../lib/java-daemon.sh
. "$here/../lib/java-daemon.sh"

maven_build "~300 MB" --clean-lib "$here/pom.xml"
[ "$build_only" = 1 ] && exit 0

config="${SWLITE_JAVA_OAP_CONFIG:-}"
[ -n "$config" ] || die "SWLITE_JAVA_OAP_CONFIG is not set (the upstream tree's oap-server/server-starter/src/main/resources at v10.1.0; see README.md)"
[ -f "$config/application.yml" ] || die "$config has no application.yml (want oap-server/server-starter/src/main/resources at v10.1.0)"
[ -n "$es" ] || die "--es URL is required (an Elasticsearch node, e.g. from tools/elasticsearch/start.sh)"

mkdir -p "$data"
data="$(cd "$data" && pwd)"
pid_file="$data/oap.pid"
log="$data/oap.log"
url="http://127.0.0.1:$http_port/graphql"

answers() { curl -s -o /dev/null -m 2 -H 'content-type: application/json' -d '{"query":"{ version }"}' "$url"; }

old="$(running_pid "$pid_file" answers)"
if [ -n "$old" ]; then
  echo "JAVA OAP READY http=$http_port grpc=$grpc_port pid=$old started_in=0 s (already running)"
  exit 0
fi

es_hostport="${es#http://}"
es_hostport="${es_hostport%/}"
mkdir -p "$data/tmp" "$data/logs"

t0=$(date +%s.%N)
# Only the modules the harness talks to listen: promql, logql and the firehose receiver would
# take fixed ports (9090, 3100, 12801) that other programs on a shared machine may hold.
# The "stop" analyzer of the OAP's default template is in Elasticsearch's analysis-common module,
# which is not on Maven Central (tools/elasticsearch/README.md): the built-in "standard" one stands
# in (it only tokenizes log and trace text, which the harness does not search).
# Dashboards can be saved from the UI (off by default in the OAP), as oap-lite allows.
# Persistence every second (not 25 s) so what the harness sends is queryable soon.
# setsid: the OAP must not get the caller's terminal SIGINT; stop.sh ends it.
SW_STORAGE=elasticsearch \
SW_STORAGE_ES_CLUSTER_NODES="$es_hostport" \
SW_STORAGE_ES_INDEX_REPLICAS_NUMBER=0 \
SW_STORAGE_ES_OAP_ANALYZER='{"analyzer":{"oap_analyzer":{"type":"standard"}}}' \
SW_STORAGE_ES_FLUSH_INTERVAL=1 \
SW_CORE_PERSISTENT_PERIOD=1 \
SW_ENABLE_UPDATE_UI_TEMPLATE=true \
SW_CORE_GRPC_HOST=127.0.0.1 SW_CORE_GRPC_PORT="$grpc_port" \
SW_CORE_REST_HOST=127.0.0.1 SW_CORE_REST_PORT="$http_port" \
SW_PROMQL=- SW_LOGQL=- SW_RECEIVER_AWS_FIREHOSE=- SW_TELEMETRY=none \
setsid java \
  -Xms256m -Xmx"$heap" -XX:+UseSerialGC \
  -Dlog4j.configurationFile="$here/log4j2.xml" -Djava.io.tmpdir="$data/tmp" -Doap.logDir="$data/logs" -Dfile.encoding=UTF-8 \
  -cp "$config:$here/target/lib/*" \
  org.apache.skywalking.oap.server.starter.OAPServerStartUp >"$log" 2>&1 </dev/null &
pid=$!
echo "$pid" >"$pid_file"

# The OAP has no parent-death option: a watcher ends it when the caller is gone.
if [ -n "$parent" ]; then
  ( while kill -0 "$parent" 2>/dev/null && kill -0 "$pid" 2>/dev/null; do sleep 2; done; kill -TERM "$pid" 2>/dev/null || true ) >/dev/null 2>&1 </dev/null &
  disown
fi

wait_ready "$pid" "$pid_file" "$log" "$timeout" "the OAP on $url" answers 1
echo "JAVA OAP READY http=$http_port grpc=$grpc_port pid=$pid started_in=$(seconds_since "$t0") s"
