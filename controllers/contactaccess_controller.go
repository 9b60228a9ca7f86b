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
	"github.com/contactsync/contactsync/internal/external/hostupcontact"
	"github.com/contactsync/contactsync/internal/external/onlyofficecontact"
	"github.com/contactsync/contactsync/internal/reconciler"
)

// +kubebuilder:rbac:groups=access.contactsync.dev,resources=contactaccesses,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=access.contactsync.dev,resources=contactaccesses/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=access.contactsync.dev,resources=contactaccesses/finalizers,verbs=update

// contactAccessConnector chooses the provider of a ContactAccess, once: spec.hostup means a
// HostUp contact, spec.onlyoffice an ONLYOFFICE CRM contact.
type contactAccessConnector struct {
	kube  client.Client
	pool  *connection.Pool
	clock func() time.Time
}

func (c *contactAccessConnector) Connect(ctx context.Context, obj *accessv1alpha1.ContactAccess) (reconciler.External[*accessv1alpha1.ContactAccess], time.Duration, error) {
	want := connection.OnlyOffice
	if obj.Spec.HostUp != nil {
		want = connection.HostUp
	}
	conn, interval, err := c.pool.ForObject(ctx, c.kube, obj.Namespace, obj.Spec.ProviderConfigRef, want, obj.Spec.SyncInterval)
	if err != nil {
		return nil, interval, err
	}
	if want == connection.HostUp {
		return &hostupcontact.External{API: conn.HostUp, Secrets: c.pool.Secrets}, interval, nil
	}
	return onlyofficecontact.New(conn, interval, c.clock), interval, nil
}

// setupContactAccess registers the ContactAccess controller. A ProviderConfig or
// ClusterProviderConfig becoming Ready (or changing), or a namespace's labels changing, wakes the
// objects that use it; our own status writes do not trigger reconciles.
func setupContactAccess(mgr ctrl.Manager, pool *connection.Pool, o Options) error {
	if err := indexDependant(context.Background(), mgr.GetFieldIndexer(), &accessv1alpha1.ContactAccess{}); err != nil {
		return err
	}
	r := &reconciler.Reconciler[*accessv1alpha1.ContactAccess]{
		Kube: mgr.GetClient(), APIReader: mgr.GetAPIReader(),
		New:         func() *accessv1alpha1.ContactAccess { return &accessv1alpha1.ContactAccess{} },
		Connector:   &contactAccessConnector{kube: mgr.GetClient(), pool: pool, clock: o.now},
		Recorder:    mgr.GetEventRecorder("contactsync"),
		Now:         o.Now,
		AfterCreate: o.afterCreate,
		RetryBase:   o.retryBase(),
	}
	b := ctrl.NewControllerManagedBy(mgr).
		For(&accessv1alpha1.ContactAccess{}, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		Watches(&accessv1alpha1.ProviderConfig{}, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, pc client.Object) []reconcile.Request {
			return requestsFor(ctx, mgr.GetClient(), &accessv1alpha1.ContactAccessList{}, pc.GetNamespace(), indexProviderConfig, pc.GetName())
		}), builder.WithPredicates(providerConfigReadinessChanged()))
	return watchClusterConfigs(b, mgr.GetClient(), func() client.ObjectList { return &accessv1alpha1.ContactAccessList{} }).
		WithOptions(controller.Options{MaxConcurrentReconciles: o.MaxConcurrentReconciles, RateLimiter: errorBackoff()}).
		Complete(r)
}
