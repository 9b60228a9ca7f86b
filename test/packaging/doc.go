// Package packaging tests what a cluster admin installs: `make build-installer`'s
// dist/install.yaml and the Helm chart in dist/chart. It is its own Go module so that the Helm
// SDK stays out of the manager's (and the main module's) dependencies; hack/test.sh runs it as
// part of `make test`.
package packaging
