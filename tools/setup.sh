#!/usr/bin/env bash
# Sets up a fresh Debian machine for this project: system packages, npm dependencies
# (native addons built against the local Node headers), BPF objects and bundles.
# Safe to run again; it only installs what is missing.
# python3-dbg and gdb: the Python frame layout test reads the interpreter's DWARF with gdb.
# --tests: also what the tests need beyond that: Debian's nginx and haproxy rebuilt from source
# with their debug files (tools/debian-debug-builds.sh; a few minutes the first time).
set -euo pipefail
cd "$(dirname "$0")/.."

tests=0
for arg in "$@"; do
  case "$arg" in
    --tests) tests=1 ;;
    *)
      echo "usage: bash tools/setup.sh [--tests]" >&2
      exit 2
      ;;
  esac
done

APT_PACKAGES=(clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev make g++ python3 python3-dbg gdb nginx-light haproxy wrk chromium debuginfod elfutils dwz)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing system packages: ${missing[*]} (run as root to install them)" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Debian enables the nginx and haproxy services on install; the tests start their own.
  systemctl disable --now nginx haproxy >/dev/null 2>&1 || true
fi

# The fidelity test's nginx-dbgsym/haproxy-dbgsym rows: Debian's source rebuilt, with -dbgsym.
if [ $tests -eq 1 ]; then bash tools/debian-debug-builds.sh; fi

# Native addons (better-sqlite3, libbpf-ts) compile against the headers of the Node that runs them.
export npm_config_nodedir="${npm_config_nodedir:-$(dirname "$(dirname "$(command -v node)")")}"
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi

# tracefs is not mounted at boot on some kernels; tracepoint attach needs it.
if [ "$(id -u)" -eq 0 ] && [ -d /sys/kernel/tracing ] && [ ! -e /sys/kernel/tracing/events ]; then
  mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null || true
fi

# Test Elasticsearch (tools/elasticsearch): fetch its Maven Central jars and build it now; optional, never fails setup.
if command -v java >/dev/null 2>&1 && command -v mvn >/dev/null 2>&1; then bash tools/elasticsearch/start.sh --build-only || echo "setup: warning: could not build the test Elasticsearch (tools/elasticsearch/target/build.log)" >&2; fi

echo "setup: build"
npx nx run-many -t build --outputStyle=static >/dev/null || npx nx run-many -t build --outputStyle=static --skip-nx-cache
echo "setup: done"
