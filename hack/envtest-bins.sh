#!/usr/bin/env bash
# Provides the envtest control plane (kube-apiserver and etcd), caches it outside the checkout
# keyed by version, and prints the folder to use as KUBEBUILDER_ASSETS on stdout. Progress goes
# to stderr.
#
#   KUBEBUILDER_ASSETS="$(hack/envtest-bins.sh)" go test ./...
#
# First it tries the release tarball setup-envtest uses (seconds, checked against the sha512 of
# controller-tools' envtest-releases.yaml). Where that cannot be reached (these machines reach
# only the Go module proxy) it builds both binaries from source through the Go module proxy,
# etcd and kube-apiserver side by side (12 min 21 s measured cold on 2 cores; with warm Go
# caches about 40 s).
#
# Environment: ENVTEST_K8S_VERSION (default 1.37.2), ENVTEST_ETCD_VERSION (default 3.7.3),
# ENVTEST_CACHE_DIR (default ${XDG_CACHE_HOME:-$HOME/.cache}/contactsync/envtest),
# ENVTEST_DOWNLOAD=0 to skip the release download and always build,
# ENVTEST_WITH_KUBECTL=1 to provide kubectl too (neither the tests nor the demo need it).
# With --cached it only prints the folder when the binaries are there, else exits 1.
set -euo pipefail

k8s="${ENVTEST_K8S_VERSION:-1.37.2}"
etcd="${ENVTEST_ETCD_VERSION:-3.7.3}"
cache="${ENVTEST_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/contactsync/envtest}"
dir="$cache/$k8s"
staging="v0.${k8s#1.}"   # staging modules are published as v0.<minor>.<patch>
want=(kube-apiserver etcd)
[ "${ENVTEST_WITH_KUBECTL:-0}" = 1 ] && want+=(kubectl)
releases="${ENVTEST_RELEASES_URL:-https://raw.githubusercontent.com/kubernetes-sigs/controller-tools/HEAD/envtest-releases.yaml}"

log() { printf 'envtest: %s\n' "$*" >&2; }

have_all() {
  local b
  for b in "${want[@]}"; do [ -x "$dir/$b" ] || return 1; done
}

mkdir -p "$dir"
exec 9>"$dir/.lock"
flock 9   # a second `make test` started meanwhile waits instead of building twice

if have_all; then
  log "using cached binaries in $dir"
  echo "$dir"
  exit 0
fi
[ "${1:-}" = --cached ] && exit 1   # only asked whether they are there

work="$(mktemp -d)"
ticker=""
trap '[ -n "$ticker" ] && kill "$ticker" 2>/dev/null; rm -rf "$work"' EXIT
start=$SECONDS

# download tries the release tarball; any failure (unreachable, unknown version, bad hash)
# returns 1 and the binaries are built instead.
download() {
  [ "${ENVTEST_DOWNLOAD:-1}" = 0 ] && return 1
  command -v curl >/dev/null && command -v sha512sum >/dev/null || return 1
  local os arch tarball index link hash
  os="$(uname -s | tr '[:upper:]' '[:lower:]')"
  case "$(uname -m)" in x86_64) arch=amd64 ;; aarch64 | arm64) arch=arm64 ;; *) return 1 ;; esac
  tarball="envtest-v$k8s-$os-$arch.tar.gz"
  index="$work/releases.yaml"
  curl -fsSL --connect-timeout 5 --max-time 30 -o "$index" "$releases" 2>/dev/null || {
    log "release index not reachable ($releases): building from the Go module proxy"
    return 1
  }
  # The entry of the tarball: "<name>:" then "hash: <sha512>" and "selfLink: <url>".
  hash="$(awk -v t="$tarball:" '$1 == t {f = 1; next} f && $1 == "hash:" {print $2; exit}' "$index")"
  link="$(awk -v t="$tarball:" '$1 == t {f = 1; next} f && $1 == "selfLink:" {print $2; exit}' "$index")"
  if [ -z "$hash" ] || [ -z "$link" ]; then
    log "no release tarball $tarball listed: building from the Go module proxy"
    return 1
  fi
  log "downloading $tarball"
  curl -fsSL --connect-timeout 5 --max-time 300 -o "$work/$tarball" "$link" 2>/dev/null || return 1
  echo "$hash  $work/$tarball" | sha512sum -c --quiet - >/dev/null 2>&1 || {
    log "sha512 of $tarball does not match the release index: not used"
    return 1
  }
  mkdir -p "$work/x" && tar -C "$work/x" -xzf "$work/$tarball" || return 1
  local b src
  for b in "${want[@]}"; do
    src="$(find "$work/x" -type f -name "$b" | head -1)"
    [ -n "$src" ] || return 1
    install -m 0755 "$src" "$dir/$b.tmp" && mv "$dir/$b.tmp" "$dir/$b"
  done
  log "downloaded in $((SECONDS - start)) s"
}

if download && have_all; then
  log "cached in $dir (reused by later runs)"
  echo "$dir"
  exit 0
fi

command -v go >/dev/null || { log "go is not on PATH"; exit 1; }
export GOTOOLCHAIN=local GOFLAGS=-mod=mod

build_etcd() {
  mkdir -p "$work/etcd" && cd "$work/etcd"
  go mod init envtest/etcd >/dev/null 2>&1
  # Built as a dependency so the module's own replace directives (which make `go install` refuse it) are ignored.
  printf '//go:build tools\n\npackage tools\n\nimport _ "go.etcd.io/etcd/server/v3"\n' >tools.go
  go mod edit -require="go.etcd.io/etcd/server/v3@v$etcd"
  go mod tidy >/dev/null 2>"$work/etcd.log" || { cat "$work/etcd.log" >&2; return 1; }
  go build -trimpath -o "$work/etcd.bin" go.etcd.io/etcd/server/v3
  mv "$work/etcd.bin" "$dir/etcd"
  log "etcd v$etcd ready after $((SECONDS - start)) s"
}

build_k8s() {
  mkdir -p "$work/k8s" && cd "$work/k8s"
  go mod init envtest/k8s >/dev/null 2>&1
  go mod edit -require="k8s.io/kubernetes@v$k8s"
  # k8s.io/kubernetes points its staging modules at ./staging; map each to its published version.
  local gomod n=0 mod
  gomod="$(go mod download -json "k8s.io/kubernetes@v$k8s" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')"
  [ -f "$gomod" ] || { log "cannot read go.mod of k8s.io/kubernetes@v$k8s"; return 1; }
  while read -r mod; do
    go mod edit -replace="$mod=$mod@$staging"
    n=$((n + 1))
  done < <(sed -n 's#^[[:space:]]*\(k8s.io/[^[:space:]]*\) => ./staging/.*#\1#p' "$gomod")
  log "mapped $n staging modules to $staging"
  local b bins=()
  for b in kube-apiserver kubectl; do
    [[ " ${want[*]} " == *" $b "* ]] && [ ! -x "$dir/$b" ] && bins+=("$b")
  done
  {
    printf '//go:build tools\n\npackage tools\n\nimport (\n'
    for b in "${bins[@]}"; do printf '\t_ "k8s.io/kubernetes/cmd/%s"\n' "$b"; done
    printf ')\n'
  } >tools.go
  go mod tidy >/dev/null 2>"$work/k8s.log" || { cat "$work/k8s.log" >&2; return 1; }
  local ver="k8s.io/component-base/version" ldflags
  ldflags="-s -w -X $ver.gitVersion=v$k8s -X $ver.gitMajor=${k8s%%.*} -X $ver.gitMinor=$(echo "$k8s" | cut -d. -f2) -X $ver.gitTreeState=clean"
  ldflags="$ldflags -X k8s.io/client-go/pkg/version.gitVersion=v$k8s"
  for b in "${bins[@]}"; do
    go build -trimpath -ldflags "$ldflags" -o "$work/$b.bin" "k8s.io/kubernetes/cmd/$b"
    mv "$work/$b.bin" "$dir/$b"
    log "$b v$k8s ready after $((SECONDS - start)) s"
  done
}

jobs_=()
names=()
if [ ! -x "$dir/etcd" ]; then
  build_etcd & jobs_+=($!); names+=(etcd)
fi
need_k8s=0
for b in kube-apiserver kubectl; do
  [[ " ${want[*]} " == *" $b "* ]] && [ ! -x "$dir/$b" ] && need_k8s=1
done
if [ "$need_k8s" = 1 ]; then
  build_k8s & jobs_+=($!); names+=(kube-apiserver)
fi
estimate=750   # seconds, measured cold on 2 cores; a warm Go cache needs about 40
log "building ${names[*]} from source through the Go module proxy, side by side (about $((estimate / 60)) minutes cold on 2 cores; once per machine)"
( while sleep 60; do
  el=$((SECONDS - start))
  if [ "$el" -lt "$estimate" ]; then
    log "still building: ${el} s so far, about $(((estimate - el + 59) / 60)) min left (cold estimate ${estimate} s on 2 cores)"
  else
    log "still building: ${el} s so far (longer than the cold estimate of ${estimate} s: a slower or busier machine)"
  fi
done ) >/dev/null &
ticker=$!
failed=0
for j in "${jobs_[@]}"; do wait "$j" || failed=1; done
kill "$ticker" 2>/dev/null; ticker=""
[ "$failed" = 0 ] || { log "build failed (see above)"; exit 1; }

have_all || { log "build finished but binaries are missing in $dir"; exit 1; }
log "cached in $dir after $((SECONDS - start)) s (reused by later runs)"
echo "$dir"
