package controllers

import (
	"context"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	accessv1alpha1 "github.com/contactsync/contactsync/api/v1alpha1"
	"github.com/contactsync/contactsync/internal/external/connection"
	"github.com/contactsync/contactsync/internal/external/hostupgrant"
	"github.com/contactsync/contactsync/internal/reconciler"
)

// +kubebuilder:rbac:groups=access.contactsync.dev,resources=delegatedgrants,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=access.contactsync.dev,resources=delegatedgrants/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=access.contactsync.dev,resources=delegatedgrants/finalizers,verbs=update

type delegatedGrantConnector struct {
	mgr   ctrl.Manager
	pool  *connection.Pool
	clock func() time.Time
}

func (c *delegatedGrantConnector) Connect(ctx context.Context, obj *accessv1alpha1.DelegatedGrant) (reconciler.External[*accessv1alpha1.DelegatedGrant], time.Duration, error) {
	conn, interval, err := c.pool.ForObject(ctx, c.mgr.GetClient(), obj.Namespace, obj.Spec.ProviderConfigRef, connection.HostUp, obj.Spec.SyncInterval)
	if err != nil {
		return nil, interval, err
	}
	return &hostupgrant.External{Conn: conn, Kube: c.mgr.GetClient(), Metadata: c.mgr.GetAPIReader(), Scheme: c.mgr.GetScheme(), Interval: interval, Now: c.clock}, interval, nil
}

// setupDelegatedGrant registers the DelegatedGrant controller.
func setupDelegatedGrant(mgr ctrl.Manager, pool *connection.Pool, o Options) error {
	if err := indexDependant(context.Background(), mgr.GetFieldIndexer(), &accessv1alpha1.DelegatedGrant{}); err != nil {
		return err
	}
	r := &reconciler.Reconciler[*accessv1alpha1.DelegatedGrant]{
		Kube: mgr.GetClient(), APIReader: mgr.GetAPIReader(),
		New:         func() *accessv1alpha1.DelegatedGrant { return &accessv1alpha1.DelegatedGrant{} },
		Connector:   &delegatedGrantConnector{mgr: mgr, pool: pool, clock: o.now},
		Recorder:    mgr.GetEventRecorder("contactsync"),
		Now:         o.Now,
		AfterCreate: o.afterCreate,
		RetryBase:   o.retryBase(),
	}
	b := ctrl.NewControllerManagedBy(mgr).
		For(&accessv1alpha1.DelegatedGrant{}, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		Watches(&accessv1alpha1.ProviderConfig{}, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, pc client.Object) []reconcile.Request {
			return requestsFor(ctx, mgr.GetClient(), &accessv1alpha1.DelegatedGrantList{}, pc.GetNamespace(), indexProviderConfig, pc.GetName())
		}), builder.WithPredicates(providerConfigReadinessChanged()))
	return watchClusterConfigs(b, mgr.GetClient(), func() client.ObjectList { return &accessv1alpha1.DelegatedGrantList{} }).
		WithOptions(controller.Options{MaxConcurrentReconciles: o.MaxConcurrentReconciles, RateLimiter: errorBackoff()}).
		Complete(r)
}
