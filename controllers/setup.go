// Package controllers wires one reconciler per kind of the access.contactsync.dev API to the
// managed loop (internal/reconciler) and the per-kind external clients (internal/external).
package controllers

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	accessv1alpha1 "github.com/contactsync/contactsync/api/v1alpha1"
	"github.com/contactsync/contactsync/internal/external/connection"
	"github.com/contactsync/contactsync/internal/reconciler"
)

// Options are the knobs of the controllers, bound to command-line flags by the manager.
type Options struct {
	// MaxConcurrentReconciles per kind.
	MaxConcurrentReconciles int
	// HTTPClient for provider calls; nil means http.DefaultClient (tests and the demo set it).
	HTTPClient *http.Client
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	// afterCreate (tests only) runs between a create call and the recording of its id.
	afterCreate func() error
}

func (o Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
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
	pool := &connection.Pool{HTTPClient: o.HTTPClient, Log: mgr.GetLogger().WithName("provider")}
	if err := (&ProviderConfigReconciler{Client: mgr.GetClient(), Pool: pool, Now: o.Now}).SetupWithManager(mgr, o); err != nil {
		return fmt.Errorf("cannot set up the ProviderConfig controller: %w", err)
	}
	if err := setupContactAccess(mgr, pool, o); err != nil {
		return fmt.Errorf("cannot set up the ContactAccess controller: %w", err)
	}
	if err := setupDelegatedGrant(mgr, pool, o); err != nil {
		return fmt.Errorf("cannot set up the DelegatedGrant controller: %w", err)
	}
	return nil
}

// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

const indexProviderConfig = "spec.providerConfigRef.name"

// errorBackoff is the queue's backoff for errors returned to controller-runtime (Kubernetes API
// failures): 1 s doubling to 5 min. Provider errors are spaced by reconciler.Backoff instead,
// capped at the object's poll interval; Retry-After answers are honoured with RequeueAfter.
func errorBackoff() workqueue.TypedRateLimiter[reconcile.Request] {
	return workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](time.Second, 5*time.Minute)
}

// requestsFor maps an event to the objects of list's kind in ns whose indexed field equals
// value (for example the ContactAccess objects that use a ProviderConfig).
func requestsFor(ctx context.Context, kube client.Reader, list client.ObjectList, ns, field, value string) []reconcile.Request {
	if err := kube.List(ctx, list, client.InNamespace(ns), client.MatchingFields{field: value}); err != nil {
		logf.FromContext(ctx).Error(err, "cannot list dependants", "field", field, "value", value)
		return nil
	}
	items, err := meta.ExtractList(list)
	if err != nil {
		return nil
	}
	out := make([]reconcile.Request, 0, len(items))
	for _, it := range items {
		if o, ok := it.(client.Object); ok {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(o)})
		}
	}
	return out
}

// providerConfigReadinessChanged passes ProviderConfig events that matter to the objects using
// it: creation, deletion, a spec change, or a change of its Ready condition.
func providerConfigReadinessChanged() predicate.Predicate {
	return predicate.Funcs{
		UpdateFunc: func(e event.UpdateEvent) bool {
			o, n := e.ObjectOld.(*accessv1alpha1.ProviderConfig), e.ObjectNew.(*accessv1alpha1.ProviderConfig)
			return o.Generation != n.Generation || reconciler.IsReady(o.Status.Conditions, o.Generation) != reconciler.IsReady(n.Status.Conditions, n.Generation)
		},
	}
}
