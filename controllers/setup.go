// Package controllers holds one reconciler per kind of the access.contactsync.dev API and the
// helpers they share (provider connections, status and conditions).
package controllers

import (
	"flag"
	"fmt"
	"net/http"

	ctrl "sigs.k8s.io/controller-runtime"
)

// Options are the knobs of the controllers, bound to command-line flags by the manager.
type Options struct {
	// MaxConcurrentReconciles per kind.
	MaxConcurrentReconciles int
	// HTTPClient for provider calls; nil means http.DefaultClient (tests and the demo set it).
	HTTPClient *http.Client

	// afterCreate (tests only) runs between a create call and the recording of its id.
	afterCreate func() error
}

// BindFlags registers the options on fs.
func (o *Options) BindFlags(fs *flag.FlagSet) {
	// 16: measured with hack/bench (docs/benchmarks.md): reconciles mostly wait on the provider and
	// its per-account limiter, and ONLYOFFICE writes can only coalesce across concurrent reconciles.
	fs.IntVar(&o.MaxConcurrentReconciles, "max-concurrent-reconciles", 16, "Reconciles run in parallel per kind (API calls are paced per account by the ProviderConfig's rate limit).")
}

// Setup registers every reconciler with the manager.
func Setup(mgr ctrl.Manager, o Options) error {
	if o.MaxConcurrentReconciles < 1 {
		o.MaxConcurrentReconciles = 1
	}
	conns := &Connections{HTTPClient: o.HTTPClient, Log: mgr.GetLogger().WithName("provider")}
	recorder := mgr.GetEventRecorder("contactsync")
	if err := (&ProviderConfigReconciler{Client: mgr.GetClient(), Connections: conns}).SetupWithManager(mgr, o); err != nil {
		return fmt.Errorf("cannot set up the ProviderConfig controller: %w", err)
	}
	if err := (&ContactAccessReconciler{Client: mgr.GetClient(), Connections: conns, Recorder: recorder, afterCreate: o.afterCreate}).SetupWithManager(mgr, o); err != nil {
		return fmt.Errorf("cannot set up the ContactAccess controller: %w", err)
	}
	if err := (&DelegatedGrantReconciler{Client: mgr.GetClient(), Connections: conns, Recorder: recorder}).SetupWithManager(mgr, o); err != nil {
		return fmt.Errorf("cannot set up the DelegatedGrant controller: %w", err)
	}
	return nil
}

// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
