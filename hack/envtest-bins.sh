#!/usr/bin/env bash
# Builds the envtest control plane (kube-apiserver and etcd) from source through the Go module
# proxy, caches it outside the checkout keyed by version, and prints the folder to use as
# KUBEBUILDER_ASSETS on stdout. Progress goes to stderr. setup-envtest is not used: it
# downloads from release buckets that these machines cannot reach.
#
#   KUBEBUILDER_ASSETS="$(hack/envtest-bins.sh)" go test ./...
#
# Environment: ENVTEST_K8S_VERSION (default 1.37.2), ENVTEST_ETCD_VERSION (default 3.7.3),
# ENVTEST_CACHE_DIR (default ${XDG_CACHE_HOME:-$HOME/.cache}/contactsync/envtest).
# Also builds kubectl when ENVTEST_WITH_KUBECTL=1 (the demo uses it).
set -euo pipefail

k8s="${ENVTEST_K8S_VERSION:-1.37.2}"
etcd="${ENVTEST_ETCD_VERSION:-3.7.3}"
cache="${ENVTEST_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/contactsync/envtest}"
dir="$cache/$k8s"
staging="v0.${k8s#1.}"   # staging modules are published as v0.<minor>.<patch>
want=(kube-apiserver etcd)
[ "${ENVTEST_WITH_KUBECTL:-0}" = 1 ] && want+=(kubectl)

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

command -v go >/dev/null || { log "go is not on PATH"; exit 1; }
export GOTOOLCHAIN=local GOFLAGS=-mod=mod
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
start=$SECONDS

if [ ! -x "$dir/etcd" ]; then
  log "[1/2] building etcd v$etcd (about 1 minute on 2 cores)"
  mkdir -p "$work/etcd" && cd "$work/etcd"
  go mod init envtest/etcd >/dev/null 2>&1
  # Built as a dependency so the module's own replace directives (which make `go install` refuse it) are ignored.
  printf '//go:build tools\n\npackage tools\n\nimport _ "go.etcd.io/etcd/server/v3"\n' >tools.go
  go mod edit -require="go.etcd.io/etcd/server/v3@v$etcd"
  go mod tidy >&2
  go build -trimpath -o "$work/etcd.bin" go.etcd.io/etcd/server/v3
  mv "$work/etcd.bin" "$dir/etcd"
  log "etcd ready after $((SECONDS - start)) s"
fi

need_k8s=0
for b in kube-apiserver kubectl; do
  [[ " ${want[*]} " == *" $b "* ]] && [ ! -x "$dir/$b" ] && need_k8s=1
done
if [ "$need_k8s" = 1 ]; then
  log "[2/2] building Kubernetes v$k8s binaries (about 6 minutes cold on 2 cores)"
  mkdir -p "$work/k8s" && cd "$work/k8s"
  go mod init envtest/k8s >/dev/null 2>&1
  go mod edit -require="k8s.io/kubernetes@v$k8s"
  # k8s.io/kubernetes points its staging modules at ./staging; map each to its published version.
  gomod="$(go mod download -json "k8s.io/kubernetes@v$k8s" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')"
  [ -f "$gomod" ] || { log "cannot read go.mod of k8s.io/kubernetes@v$k8s"; exit 1; }
  n=0
  while read -r mod; do
    go mod edit -replace="$mod=$mod@$staging"
    n=$((n + 1))
  done < <(sed -n 's#^[[:space:]]*\(k8s.io/[^[:space:]]*\) => ./staging/.*#\1#p' "$gomod")
  log "mapped $n staging modules to $staging"
  {
    printf '//go:build tools\n\npackage tools\n\nimport (\n'
    printf '\t_ "k8s.io/kubernetes/cmd/kube-apiserver"\n'
    printf '\t_ "k8s.io/kubernetes/cmd/kubectl"\n)\n'
  } >tools.go
  go mod tidy >&2
  ver="k8s.io/component-base/version"
  ldflags="-s -w -X $ver.gitVersion=v$k8s -X $ver.gitMajor=${k8s%%.*} -X $ver.gitMinor=$(echo "$k8s" | cut -d. -f2) -X $ver.gitTreeState=clean"
  ldflags="$ldflags -X k8s.io/client-go/pkg/version.gitVersion=v$k8s"
  for b in kube-apiserver kubectl; do
    [[ " ${want[*]} " == *" $b "* ]] || continue
    [ -x "$dir/$b" ] && continue
    log "compiling $b"
    go build -trimpath -ldflags "$ldflags" -o "$work/$b.bin" "k8s.io/kubernetes/cmd/$b"
    mv "$work/$b.bin" "$dir/$b"
  done
  log "Kubernetes binaries ready after $((SECONDS - start)) s"
fi

have_all || { log "build finished but binaries are missing in $dir"; exit 1; }
log "cached in $dir (reused by later runs)"
echo "$dir"
