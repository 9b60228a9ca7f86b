#!/usr/bin/env bash
# make demo: builds (once, cached) the envtest control plane, then runs cmd/demo, which starts
# it with the HostUp and ONLYOFFICE fakes and the manager. ARGS=--once for a non-interactive run.
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=local
assets="${KUBEBUILDER_ASSETS:-$(hack/envtest-bins.sh)}"
export KUBEBUILDER_ASSETS="$assets"
go build -o bin/demo ./cmd/demo
exec bin/demo "$@"
