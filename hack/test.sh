#!/usr/bin/env bash
# `make test`: every test, race detector on, with the envtest binaries, then the packaging
# module's tests (test/packaging). On a machine that has
# no envtest binaries yet, providing them (hack/envtest-bins.sh) overlaps the compile of the
# test binaries instead of coming before it. Extra arguments go to `go test`.
set -euo pipefail
cd "$(dirname "$0")/.."
GO="${GO:-go}"
assets="${KUBEBUILDER_ASSETS:-}"
if [ -z "$assets" ] && ! assets="$(hack/envtest-bins.sh --cached 2>/dev/null)"; then
  out="$(mktemp)"
  trap 'rm -f "$out"' EXIT
  hack/envtest-bins.sh >"$out" &
  pid=$!
  echo "test: compiling the tests while the envtest binaries are provided" >&2
  "$GO" test -race -count=1 -run '^$' ./... >/dev/null || true   # errors show in the real run
  (cd test/packaging && "$GO" test -count=1 -run '^$' ./... >/dev/null) || true
  wait "$pid"
  assets="$(cat "$out")"
fi
echo "KUBEBUILDER_ASSETS=$assets"
KUBEBUILDER_ASSETS="$assets" "$GO" test -race -count=1 -timeout 30m ./... "$@"
# The packaging tests (dist/chart is generated, the chart and `make build-installer` apply to an
# API server) are a module of their own so that the Helm SDK stays out of the main module's
# dependencies. No -race: they run no concurrent code of the project.
echo "test/packaging:"
cd test/packaging && KUBEBUILDER_ASSETS="$assets" exec "$GO" test -count=1 -timeout 10m ./...
