#!/usr/bin/env bash
# Builds Debian's nginx and haproxy from Debian's own source packages, with Debian's build flags,
# and unpacks each binary package together with its -dbgsym package into
# .cache/debian-debug/<pkg>/root (plus build.json: package, version, binary, build-id, seconds).
#
# Why: Debian strips .symtab from /usr/sbin/nginx and /usr/sbin/haproxy, so their static
# functions are named only by the -dbgsym packages, and those live in the debug archive
# (deb.debian.org/debian-debug) or behind debuginfod.debian.net, both unreachable from our test
# machines. The main archive's source packages are reachable, and a rebuild gives a binary and
# a .debug file that belong together. e2e/src/fidelity.test.ts profiles that binary.
# Where the debug archive is reachable, `apt install nginx-dbgsym haproxy-dbgsym` (or
# DEBUGINFOD_URLS=https://debuginfod.debian.net) gives the same debug files for the system binaries.
#
# Idempotent: a package whose cache already holds a build of the newest source version apt can
# download is left alone. Needs root otherwise (apt-get update/build-dep). Never installs the
# built packages and never touches /usr/sbin/nginx or /usr/sbin/haproxy.
# Exits non-zero if anything fails; the build log is kept in .cache/debian-debug/<pkg>.failed.log.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(nginx haproxy)
declare -A BINARY=([nginx]=usr/sbin/nginx [haproxy]=usr/sbin/haproxy)
CACHE="$PWD/.cache/debian-debug"
SOURCES_FILE=/etc/apt/sources.list.d/swlite-debian-src.sources
APT=(apt-get -o DPkg::Lock::Timeout=600)

say() { echo "debian-debug: $*"; }
die() {
  echo "debian-debug: error: $*" >&2
  exit 1
}

mkdir -p "$CACHE"
WORK=""
trap '[ -z "$WORK" ] || rm -rf "$WORK"' EXIT
exec 9>"$CACHE/.lock"
flock 9 # one run at a time

# The version recorded in <pkg>/build.json, if the build there is complete.
cached_version() {
  local dir="$CACHE/$1"
  [ -f "$dir/build.json" ] || return 0
  local bin debug
  bin=$(sed -n 's/^  "binary": "\(.*\)",$/\1/p' "$dir/build.json")
  debug=$(sed -n 's/^  "debugFile": "\(.*\)",$/\1/p' "$dir/build.json")
  [ -n "$bin" ] && [ -x "$dir/$bin" ] && [ -n "$debug" ] && [ -f "$dir/$debug" ] || return 0
  sed -n 's/^  "version": "\(.*\)",$/\1/p' "$dir/build.json"
}

# The source versions apt knows for a package, newest first.
source_versions() {
  local versions=() v i
  while read -r v; do
    [ -n "$v" ] || continue
    # insertion sort with Debian's version ordering
    for ((i = ${#versions[@]}; i > 0; i--)); do
      dpkg --compare-versions "$v" gt "${versions[i - 1]}" || break
      versions[i]=${versions[i - 1]}
    done
    versions[i]=$v
  done < <(apt-cache showsrc --only-source "$1" 2>/dev/null | sed -n 's/^Version: //p' | sort -u)
  [ ${#versions[@]} -eq 0 ] || printf '%s\n' "${versions[@]}"
}

# deb-src lines for the Debian archive (only if none are configured), and their index files.
sources_ready=0
ensure_sources() {
  [ $sources_ready -eq 1 ] && return 0
  sources_ready=1
  local codename added=0
  codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
  [ -n "$codename" ] || die "no VERSION_CODENAME in /etc/os-release (this script expects Debian)"
  if ! apt-get indextargets --format '$(IDENTIFIER) $(SITE) $(RELEASE)' 2>/dev/null |
    grep -q "^Sources http://deb.debian.org/debian $codename\$"; then
    say "adding deb-src lines for $codename ($SOURCES_FILE)"
    # bookworm-security's Sources index is included; where its pool is refused, the newest
    # downloadable version is built instead (see build_one).
    cat >"$SOURCES_FILE" <<EOF
# Added by swlite's tools/debian-debug-builds.sh: Debian source packages (apt-get source).
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: $codename $codename-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: $codename-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    added=1
  fi
  local missing=0 p
  for p in "${PACKAGES[@]}"; do [ -n "$(source_versions "$p")" ] || missing=1; done
  if [ $added -eq 1 ] || [ $missing -eq 1 ]; then
    say "apt-get update"
    # An unreachable index (e.g. the security suite behind a proxy) is tolerated as long as
    # the main archive's Sources arrive; checked below.
    "${APT[@]}" update -qq || say "warning: apt-get update reported errors (continuing with the indexes it got)"
  fi
  for p in "${PACKAGES[@]}"; do
    [ -n "$(source_versions "$p")" ] || die "apt knows no source package '$p' after apt-get update (deb-src lines in $SOURCES_FILE)"
  done
  if ! command -v dpkg-source >/dev/null || ! command -v dpkg-buildpackage >/dev/null; then
    say "installing dpkg-dev"
    DEBIAN_FRONTEND=noninteractive "${APT[@]}" install -y -qq --no-install-recommends dpkg-dev >/dev/null
  fi
}

# Builds one package; prints its line. $1 = package.
build_one() {
  local pkg=$1 have start
  start=$(date +%s)
  have=$(cached_version "$pkg")
  if [ "$(id -u)" -ne 0 ]; then
    [ -n "$have" ] && {
      say "$pkg $have: cached (not root, so apt's newest source version was not checked)"
      return 0
    }
    die "$pkg: no build in $CACHE/$pkg and building needs root (apt-get build-dep)"
  fi
  ensure_sources

  local versions
  mapfile -t versions < <(source_versions "$pkg")
  if [ -n "$have" ] && [ "$have" = "${versions[0]}" ]; then
    say "$pkg $have: up to date in .cache/debian-debug/$pkg (0 s)"
    return 0
  fi

  [ -z "$WORK" ] || rm -rf "$WORK"
  WORK=$(mktemp -d /tmp/swlite-debian-debug-"$pkg".XXXXXX) # removed on exit
  local work=$WORK
  # The newest version whose source files download (a suite's index can be reachable while its
  # pool is not); stop at the cached version if nothing newer downloads.
  local v ver="" refused=() errors=""
  for v in "${versions[@]}"; do
    if [ "$v" = "$have" ]; then
      say "$pkg $have: up to date in .cache/debian-debug/$pkg (the source of ${refused[*]} does not download here) ($(($(date +%s) - start)) s)"
      return 0
    fi
    if (cd "$work" && "${APT[@]}" -o APT::Sandbox::User=root source --download-only -qq "$pkg=$v" >"$work/download.log" 2>&1); then
      ver=$v
      break
    fi
    refused+=("$v")
    errors+="debian-debug: $pkg $v: $(grep -m1 -E '^(E|Err):' "$work/download.log" || tail -n1 "$work/download.log")"$'\n'
    rm -f "$work"/*.dsc "$work"/*.tar.* "$work"/*.diff.gz
  done
  printf '%s' "$errors" >&2
  [ -n "$ver" ] || die "$pkg: no source version downloads (tried ${versions[*]})"
  [ ${#refused[@]} -eq 0 ] || say "$pkg: the source of ${refused[*]} does not download here; building $ver"

  local noepoch=${ver#*:} src="$work/src" stage="$CACHE/.$pkg.new" log
  rm -rf "$stage"
  mkdir -p "$stage"
  log="$stage/build.log"
  dpkg-source -x "$work/${pkg}_${noepoch}.dsc" "$src" >>"$log" 2>&1 || fail "$pkg" "$stage" "dpkg-source -x failed"

  # Exactly the build dependencies of this version (debian/control of the unpacked source).
  DEBIAN_FRONTEND=noninteractive "${APT[@]}" build-dep -y -qq "$src" >>"$log" 2>&1 || fail "$pkg" "$stage" "apt-get build-dep failed"

  # A clean environment: Debian's build flags come from dpkg-buildflags; a PATH with another
  # python3 (pyenv) or compilers would change the build. Arch-only: the binaries, not the docs.
  local t0 t1
  t0=$(date +%s)
  (cd "$src" && env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="${HOME:-/root}" LANG=C.UTF-8 \
    DEB_BUILD_OPTIONS="parallel=$(nproc) nocheck nodoc" dpkg-buildpackage -B -uc -us) >>"$log" 2>&1 ||
    fail "$pkg" "$stage" "dpkg-buildpackage failed"
  t1=$(date +%s)

  local arch deb dbgsym
  arch=$(dpkg --print-architecture)
  deb="$work/${pkg}_${noepoch}_${arch}.deb"
  dbgsym="$work/${pkg}-dbgsym_${noepoch}_${arch}.deb"
  [ -f "$deb" ] || fail "$pkg" "$stage" "the build made no $(basename "$deb")"
  [ -f "$dbgsym" ] || fail "$pkg" "$stage" "the build made no $(basename "$dbgsym")"
  dpkg -x "$deb" "$stage/root"
  dpkg -x "$dbgsym" "$stage/root"

  local bin=${BINARY[$pkg]} id debug
  [ -x "$stage/root/$bin" ] || fail "$pkg" "$stage" "$(basename "$deb") has no /$bin"
  id=$(readelf -n "$stage/root/$bin" | sed -n 's/^ *Build ID: *\([0-9a-f]*\)$/\1/p')
  [ -n "$id" ] || fail "$pkg" "$stage" "/$bin has no build-id note"
  debug="root/usr/lib/debug/.build-id/${id:0:2}/${id:2}.debug"
  [ -f "$stage/$debug" ] || fail "$pkg" "$stage" "$(basename "$dbgsym") has no $debug for /$bin"

  local seconds=$(($(date +%s) - start))
  cat >"$stage/build.json" <<EOF
{
  "package": "$pkg",
  "version": "$ver",
  "binary": "root/$bin",
  "debugFile": "$debug",
  "buildId": "$id",
  "seconds": $seconds,
  "buildSeconds": $((t1 - t0)),
  "builtAt": "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
}
EOF
  rm -rf "${CACHE:?}/$pkg" "$CACHE/$pkg.failed.log"
  mv "$stage" "$CACHE/$pkg"
  say "$pkg $ver: built in $seconds s (dpkg-buildpackage $((t1 - t0)) s), build-id $id, in .cache/debian-debug/$pkg"
}

# Keeps the log, says where it is and its last lines, and exits non-zero.
fail() {
  local pkg=$1 stage=$2 msg=$3
  mv "$stage/build.log" "$CACHE/$pkg.failed.log" 2>/dev/null || true
  rm -rf "$stage"
  tail -n 30 "$CACHE/$pkg.failed.log" >&2 2>/dev/null || true
  die "$pkg: $msg (log: .cache/debian-debug/$pkg.failed.log)"
}

all_start=$(date +%s)
for p in "${PACKAGES[@]}"; do build_one "$p"; done
say "done in $(($(date +%s) - all_start)) s"
