# contactsync — run `make help` for the targets.
IMG ?= contactsync:dev
ENVTEST_K8S_VERSION ?= 1.37.2
LOCALBIN ?= $(shell pwd)/bin
GO ?= go
export GOTOOLCHAIN = local

CONTROLLER_GEN_VERSION ?= v0.23.0
KUSTOMIZE_VERSION ?= v5.8.0
GOLANGCI_LINT_VERSION ?= v2.15.0
CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen
KUSTOMIZE ?= $(LOCALBIN)/kustomize
GOLANGCI_LINT ?= $(LOCALBIN)/golangci-lint
KUBECTL ?= kubectl

.DEFAULT_GOAL := help
SHELL := /usr/bin/env bash -o pipefail

##@ General

.PHONY: help
help: ## Show the targets.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-15s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: controller-gen ## Generate CRDs and RBAC into config/crd/bases and config/rbac.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd paths="./..." output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac

.PHONY: generate
generate: controller-gen ## Generate DeepCopy methods.
	$(CONTROLLER_GEN) object:headerFile="hack/boilerplate.go.txt" paths="./..."

.PHONY: fmt
fmt: ## Run gofmt -s on the tree.
	gofmt -s -w $$(git ls-files -co --exclude-standard '*.go')

.PHONY: vet
vet: ## Run go vet.
	$(GO) vet ./...

.PHONY: lint
lint: golangci-lint ## Run golangci-lint.
	$(GOLANGCI_LINT) run

.PHONY: envtest
envtest: ## Build (once, cached) kube-apiserver and etcd for envtest and print their folder.
	@ENVTEST_K8S_VERSION=$(ENVTEST_K8S_VERSION) hack/envtest-bins.sh

.PHONY: test
test: manifests generate vet kustomize ## Run every test (builds the envtest binaries on first use).
	@ENVTEST_K8S_VERSION=$(ENVTEST_K8S_VERSION) GO=$(GO) hack/test.sh $(TEST_ARGS)

.PHONY: test-profile
test-profile: manifests generate vet kustomize ## `make test`, then the slowest controllers specs and the time per file (docs/development.md).
	@ENVTEST_K8S_VERSION=$(ENVTEST_K8S_VERSION) GO=$(GO) CONTACTSYNC_TEST_PROFILE=1 hack/test.sh

.PHONY: fuzz
fuzz: ## Run every fuzz target for FUZZTIME each (default 60s). Not part of `make test`.
	hack/fuzz.sh $(or $(FUZZTIME),60s)

.PHONY: bench
bench: ## Scale benchmark against the fakes (defaults N=1000, M=100; ~7 min). ARGS="-n 200 -m 20" for a smaller run.
	@assets="$${KUBEBUILDER_ASSETS:-$$(ENVTEST_K8S_VERSION=$(ENVTEST_K8S_VERSION) hack/envtest-bins.sh)}" && \
	  KUBEBUILDER_ASSETS="$$assets" $(GO) run ./hack/bench $(ARGS)

.PHONY: bench-sweep
bench-sweep: ## Scale curve: N = 100, 1000, 10000 (M = N/10, syncInterval 10m), one process each; time, calls, peak RSS, CPU per object (~15 min).
	@assets="$${KUBEBUILDER_ASSETS:-$$(ENVTEST_K8S_VERSION=$(ENVTEST_K8S_VERSION) hack/envtest-bins.sh)}" && \
	  KUBEBUILDER_ASSETS="$$assets" $(GO) run ./hack/bench -sweep $(or $(SIZES),100,1000,10000) -sync-interval 10m -timeout 25m $(ARGS)

.PHONY: soak
soak: ## The fault soak at full size (300 objects; SOAK_PER_KIND=100 per kind). `make test` runs it with 12 per kind.
	@assets="$${KUBEBUILDER_ASSETS:-$$(hack/envtest-bins.sh)}" && \
	  KUBEBUILDER_ASSETS="$$assets" CONTACTSYNC_SOAK_PER_KIND=$(or $(SOAK_PER_KIND),100) $(GO) test -race -count=1 -timeout 30m ./controllers/ -ginkgo.focus="Reliability converges" -ginkgo.v

.PHONY: killtest
killtest: ## Kill the manager binary with SIGKILL 20 times (KILLS=n) during creates; check nothing is duplicated. Not in `make test`.
	@assets="$${KUBEBUILDER_ASSETS:-$$(hack/envtest-bins.sh)}" && \
	  KUBEBUILDER_ASSETS="$$assets" CONTACTSYNC_KILLS=$(or $(KILLS),20) $(GO) test -count=1 -tags killtest -timeout 20m ./controllers/ -ginkgo.focus="SIGKILL loop" -ginkgo.v

.PHONY: demo
demo: ## Run the product on an embedded default (see README).
	@hack/demo.sh $(ARGS)

##@ Build

.PHONY: build
build: manifests generate ## Build the manager into bin/manager and the kubectl plugin into bin/kubectl-contactsync.
	$(GO) build -trimpath -o $(LOCALBIN)/manager ./cmd
	$(GO) build -trimpath -o $(LOCALBIN)/kubectl-contactsync ./cmd/kubectl-contactsync

.PHONY: run
run: manifests generate ## Run the manager against the current kubeconfig's cluster.
	$(GO) run ./cmd

.PHONY: docker-build
docker-build: ## Build the container image (needs a Docker engine).
	docker build -t $(IMG) .

##@ Deployment

.PHONY: install
install: manifests kustomize ## Install the CRDs into the current kubeconfig's cluster.
	$(KUSTOMIZE) build config/crd | $(KUBECTL) apply --server-side -f -

.PHONY: uninstall
uninstall: manifests kustomize ## DELETES the CRDs and with them EVERY ProviderConfig, ContactAccess and DelegatedGrant (see docs/install.md).
	$(KUSTOMIZE) build config/crd | $(KUBECTL) delete --ignore-not-found -f -

.PHONY: deploy
deploy: manifests kustomize ## Deploy the controller with config/default (IMG=...).
	cd config/manager && $(KUSTOMIZE) edit set image controller=$(IMG)
	$(KUSTOMIZE) build config/default | $(KUBECTL) apply --server-side -f -

.PHONY: undeploy
undeploy: kustomize ## Remove the controller (config/controller); the CRDs and every object stay (make uninstall removes them).
	$(KUSTOMIZE) build config/controller | $(KUBECTL) delete --ignore-not-found -f -

.PHONY: build-installer
build-installer: manifests kustomize ## Write dist/install.yaml: CRDs + controller in one file with IMG (kubectl apply --server-side -f).
	@KUSTOMIZE=$(KUSTOMIZE) hack/build-installer.sh $(IMG) dist/install.yaml

.PHONY: helm-chart
helm-chart: manifests kustomize ## Regenerate the Helm chart dist/chart from the kustomize sources (a test fails when it is stale).
	$(GO) run ./hack/chartgen/cmd/chartgen -kustomize $(KUSTOMIZE) -out dist/chart

##@ Tools (pinned, installed into ./bin)

.PHONY: controller-gen kustomize golangci-lint
controller-gen: $(CONTROLLER_GEN)-$(CONTROLLER_GEN_VERSION)
kustomize: $(KUSTOMIZE)-$(KUSTOMIZE_VERSION)
golangci-lint: $(GOLANGCI_LINT)-$(GOLANGCI_LINT_VERSION)

$(CONTROLLER_GEN)-$(CONTROLLER_GEN_VERSION):
	$(call go-install-tool,$(CONTROLLER_GEN),sigs.k8s.io/controller-tools/cmd/controller-gen,$(CONTROLLER_GEN_VERSION))
$(KUSTOMIZE)-$(KUSTOMIZE_VERSION):
	$(call go-install-tool,$(KUSTOMIZE),sigs.k8s.io/kustomize/kustomize/v5,$(KUSTOMIZE_VERSION))
$(GOLANGCI_LINT)-$(GOLANGCI_LINT_VERSION):
	$(call go-install-tool,$(GOLANGCI_LINT),github.com/golangci/golangci-lint/v2/cmd/golangci-lint,$(GOLANGCI_LINT_VERSION))

# go-install-tool installs $(2)@$(3) as $(1)-$(3) and links $(1) to it.
define go-install-tool
@[ -f "$(1)-$(3)" ] || { set -e; echo "installing $(2)@$(3)"; mkdir -p $(LOCALBIN); \
  GOBIN=$(LOCALBIN) $(GO) install $(2)@$(3); mv "$(LOCALBIN)/$$(basename $(1))" "$(1)-$(3)"; }
@ln -sf "$$(basename $(1))-$(3)" "$(1)"
endef
