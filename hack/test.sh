#!/usr/bin/env bash
# `make test`: every test, race detector on, with the envtest binaries, then the packaging
# module's tests (test/packaging). On a machine that has no envtest binaries yet, providing
# them (hack/envtest-bins.sh) overlaps the compile of the test binaries instead of coming
# before it.
#
# The controllers suite is one envtest suite of ~2 minutes when run alone. It runs here as two
# shards side by side, each with its own control plane, next to the other packages: on 2 cores
# that measured ~75 s instead of ~120 s (docs/development.md, "Test times"). The shards are
# complementary Ginkgo file filters on one compiled test binary, so every spec runs exactly
# once. CONTACTSYNC_TEST_SHARDS=1 runs the suite in one process; extra arguments (go test
# flags, e.g. TEST_ARGS="-run TestDocs") also run everything the plain `go test ./...` way.
# CONTACTSYNC_TEST_PROFILE=1 (`make test-profile`) ends with the slowest specs and the time per
# file of the controllers suite (hack/specprofile), the table in docs/development.md.
set -euo pipefail
cd "$(dirname "$0")/.."
GO="${GO:-go}"
module="github.com/contactsync/contactsync"
# Shard A: the files with the longest specs (fault soak, crash loop, leader election, grant
# polls, API-efficiency counts). Shard B: every other file. Rebalance from `make test-profile`.
shard_a='(reliability|delegatedgrant|efficiency|create_outcomes|fairness)_test\.go'

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
assets="${KUBEBUILDER_ASSETS:-}"
if [ -z "$assets" ] && ! assets="$(hack/envtest-bins.sh --cached 2>/dev/null)"; then
  hack/envtest-bins.sh >"$tmp/assets" &
  pid=$!
  echo "test: compiling the tests while the envtest binaries are provided" >&2
  "$GO" test -race -count=1 -run '^$' ./... >/dev/null || true   # errors show in the real run
  (cd test/packaging && "$GO" test -count=1 -run '^$' ./... >/dev/null) || true
  wait "$pid"
  assets="$(cat "$tmp/assets")"
fi
echo "KUBEBUILDER_ASSETS=$assets"
export KUBEBUILDER_ASSETS="$assets"

packaging() {
  # The packaging tests (dist/chart is generated, the chart and `make build-installer` apply to
  # an API server) are a module of their own so that the Helm SDK stays out of the main
  # module's dependencies. No -race: they run no concurrent code of the project.
  echo "test/packaging:"
  (cd test/packaging && "$GO" test -count=1 -timeout 10m ./...)
}

if [ $# -gt 0 ] || [ "${CONTACTSYNC_TEST_SHARDS:-2}" = 1 ]; then
  "$GO" test -race -count=1 -timeout 30m ./... "$@"
  packaging
  exit
fi

# One binary for both shards; a compile error stops here with go's own message.
"$GO" test -race -c -o "$tmp/controllers.test" ./controllers/

shard() { # name, ginkgo filter flag: runs one shard, prints its result line like go test does
  local name=$1 filter=$2 s=$SECONDS rc=0
  (cd controllers && exec "$tmp/controllers.test" -test.count=1 -test.timeout=30m "$filter=$shard_a" \
    -ginkgo.json-report="$tmp/$name.json") >"$tmp/$name.log" 2>&1 &
  echo $! >"$tmp/$name.pid"
  wait $! || rc=$?
  echo "$rc" >"$tmp/$name.rc"
  local ran
  ran="$(sed 's/\x1b\[[0-9;]*m//g' "$tmp/$name.log" | grep -o 'Ran [0-9]* of [0-9]* Specs' || true)"
  if [ "$rc" = 0 ]; then
    printf 'ok  \t%s/controllers [shard %s: %s]\t%ds\n' "$module" "$name" "$ran" "$((SECONDS - s))"
  else
    cat "$tmp/$name.log"
    printf 'FAIL\t%s/controllers [shard %s: %s]\t%ds\n' "$module" "$name" "$ran" "$((SECONDS - s))"
  fi
}
shard a -ginkgo.focus-file &
pa=$!
shard b -ginkgo.skip-file &
pb=$!
# Interrupted (Ctrl-C, a CI timeout): stop both shards with SIGTERM, on which Ginkgo runs its
# cleanup and stops its control plane, and wait for that before the binary's folder goes.
stop_shards() {
  local n
  for n in a b; do
    if [ -f "$tmp/$n.pid" ]; then kill -TERM "$(cat "$tmp/$n.pid")" 2>/dev/null || true; fi
  done
  if [ -n "${po:-}" ]; then kill -TERM "$po" 2>/dev/null || true; fi
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap stop_shards EXIT
trap 'exit 130' INT TERM
rc=0
others="$("$GO" list ./... | grep -vx "$module/controllers")"
# In the background, so that a signal is acted on at once (bash runs traps between commands,
# and `wait` is a command that a signal interrupts).
# shellcheck disable=SC2086 # one package path per word
"$GO" test -race -count=1 -timeout 30m $others &
po=$!
wait "$po" || rc=$?
po=""
wait "$pa" "$pb" || true
for n in a b; do [ "$(cat "$tmp/$n.rc")" = 0 ] || rc=1; done
packaging || rc=1
if [ "${CONTACTSYNC_TEST_PROFILE:-0}" = 1 ]; then
  echo "controllers suite profile (shards a and b side by side):"
  "$GO" run ./hack/specprofile -top 20 "$tmp/a.json" "$tmp/b.json" || rc=1
fi
exit "$rc"
