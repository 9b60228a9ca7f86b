#!/usr/bin/env bash
# make build-installer: config/default (CRDs, RBAC, manager, admission policy) with the image
# IMG, as one file for `kubectl apply --server-side -f`. The image is set in a throw-away
# overlay, so config/manager/kustomization.yaml is not edited.
#   hack/build-installer.sh IMG [OUT]   (OUT defaults to dist/install.yaml; - for stdout)
set -euo pipefail
cd "$(dirname "$0")/.."
img="${1:?usage: hack/build-installer.sh IMG [OUT]}"
out="${2:-dist/install.yaml}"
kustomize="${KUSTOMIZE:-bin/kustomize}"
[[ "$kustomize" == */* ]] && kustomize="$(cd "$(dirname "$kustomize")" && pwd)/$(basename "$kustomize")"
tmp="$(mktemp -d config/.installer.XXXXXX)"   # kustomize resolves bases relative to the overlay
trap 'rm -rf "$tmp"' EXIT
printf 'resources:\n- ../default\n' >"$tmp/kustomization.yaml"
(cd "$tmp" && "$kustomize" edit set image "contactsync=$img")
if [ "$out" = - ]; then
  "$kustomize" build "$tmp"
else
  mkdir -p "$(dirname "$out")"
  { echo "# contactsync install bundle: make build-installer IMG=$img"; "$kustomize" build "$tmp"; } >"$out.tmp"
  mv "$out.tmp" "$out"
  echo "wrote $out (image $img)"
fi
