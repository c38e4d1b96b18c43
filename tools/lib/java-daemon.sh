# Shared by tools/elasticsearch and tools/java-oap (sourced, not run): building a Maven project
# once, and starting, waiting for and stopping a JVM daemon recorded in a PID file.
# The caller defines die() and sets `here` (its own folder).

# maven_build NOTE [--clean-lib] INPUT...: `mvn package` in $here unless the build stamp is newer
# than every INPUT. flock: parallel test workers may call start.sh at the same moment.
maven_build() {
  local note="$1" clean_lib=0
  shift
  if [ "${1:-}" = --clean-lib ]; then clean_lib=1; shift; fi
  local stamp="$here/target/.build-stamp"
  mkdir -p "$here/target"
  exec 9>"$here/target/.build.lock"
  flock 9
  if [ -f "$stamp" ] && [ -z "$(find "$@" -newer "$stamp" -print -quit)" ]; then
    flock -u 9
    return 0
  fi
  command -v mvn >/dev/null 2>&1 || die "mvn not found (need Maven 3.6+: apt-get install maven)"
  echo "start.sh: building with Maven (the first run downloads $note into ~/.m2 from Maven Central)" >&2
  local t0=$SECONDS
  [ "$clean_lib" = 1 ] && rm -rf "$here/target/lib"
  if ! mvn -q -B -f "$here/pom.xml" package >"$here/target/build.log" 2>&1; then
    tail -n 40 "$here/target/build.log" >&2
    die "maven build failed (full log: $here/target/build.log)"
  fi
  touch "$stamp"
  echo "start.sh: built in $((SECONDS - t0)) s" >&2
  flock -u 9
}

# running_pid PID_FILE READY_FN: prints the PID when the daemon recorded there is alive and
# READY_FN succeeds; otherwise removes a stale PID file and prints nothing.
running_pid() {
  local pid_file="$1" ready="$2" old
  [ -f "$pid_file" ] || return 0
  old="$(cat "$pid_file" 2>/dev/null || true)"
  if [ -n "$old" ] && kill -0 "$old" 2>/dev/null && "$ready"; then
    echo "$old"
    return 0
  fi
  rm -f "$pid_file"
}

# wait_ready PID PID_FILE LOG TIMEOUT WHAT READY_FN INTERVAL: waits until READY_FN succeeds; dies
# (with the log's tail, the daemon killed and its PID file removed) when it exits or times out.
wait_ready() {
  local pid="$1" pid_file="$2" log="$3" timeout="$4" what="$5" ready="$6" interval="$7"
  local deadline=$((SECONDS + timeout))
  while :; do
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$pid_file"
      tail -n 40 "$log" >&2
      die "$what exited during start-up (log: $log)"
    fi
    if "$ready"; then return 0; fi
    if [ $SECONDS -ge $deadline ]; then
      tail -n 40 "$log" >&2
      kill "$pid" 2>/dev/null || true
      rm -f "$pid_file"
      die "$what did not answer within ${timeout}s (log: $log)"
    fi
    sleep "$interval"
  done
}

# seconds_since T0: seconds elapsed since T0 (date +%s.%N), one decimal.
seconds_since() {
  awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'
}

# stop_daemon PID_FILE CMDLINE_MARK WHAT GRACE: SIGTERM, then SIGKILL after GRACE seconds.
# Idempotent: no PID file, or a PID that is dead or not ours (PIDs get reused: the command line
# must contain CMDLINE_MARK), is not an error.
stop_daemon() {
  local pid_file="$1" mark="$2" what="$3" grace="$4" pid
  if [ ! -f "$pid_file" ]; then
    echo "stop.sh: not running (no $pid_file)"
    return 0
  fi
  pid="$(cat "$pid_file" 2>/dev/null || true)"
  if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null || ! tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "$mark"; then
    rm -f "$pid_file"
    echo "stop.sh: not running (stale $pid_file)"
    return 0
  fi
  kill -TERM "$pid"
  local deadline=$((SECONDS + grace))
  while kill -0 "$pid" 2>/dev/null; do
    if [ $SECONDS -ge $deadline ]; then
      echo "stop.sh: $what $pid did not stop within ${grace}s; killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.2
  done
  rm -f "$pid_file"
  echo "stop.sh: stopped $pid"
}
