package controllers

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	accessv1alpha1 "github.com/contactsync/contactsync/api/v1alpha1"
	"github.com/contactsync/contactsync/internal/external/connection"
	"github.com/contactsync/contactsync/internal/reconciler"
)

// configUsageReconciler keeps a ProviderConfig (or, with cluster set, a ClusterProviderConfig)
// while objects use it, in the spirit of Crossplane's ProviderConfigUsage: the finalizer
// access.contactsync.dev/in-use stays until no ContactAccess or DelegatedGrant refers to the
// config, so that those being deleted with deletionPolicy Revoke or Delete can still reach the
// provider. status.users and status.usedBy say who uses it; while a deletion waits, Reconciling
// is True with reason InUse and names them. It makes no provider call: verification is
// ProviderConfigReconciler's, and the objects' own events (create, delete) wake this one.
type configUsageReconciler struct {
	kube     client.Client
	pool     *connection.Pool
	recorder events.EventRecorder
	cluster  bool
}

// Reconcile counts the config's dependants and keeps or releases it.
func (r *configUsageReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	obj := newConfig(r.cluster)
	if err := r.kube.Get(ctx, req.NamespacedName, obj); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	users, err := dependants(ctx, r.kube, r.cluster, req.NamespacedName)
	if err != nil {
		return ctrl.Result{}, err
	}
	cfg := connection.ConfigOf(obj, r.pool.ControllerNamespace)
	deleting := cfg.Deleting()
	if deleting && len(users) == 0 {
		if controllerutil.ContainsFinalizer(obj, accessv1alpha1.FinalizerInUse) {
			orig := obj.DeepCopyObject().(client.Object)
			controllerutil.RemoveFinalizer(obj, accessv1alpha1.FinalizerInUse)
			if err := r.kube.Patch(ctx, obj, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})); err != nil && !apierrors.IsNotFound(err) {
				return conflictRetry(err, "cannot remove finalizer")
			}
		}
		r.pool.Forget(cfg)
		return ctrl.Result{}, nil
	}
	if deleting && !controllerutil.ContainsFinalizer(obj, accessv1alpha1.FinalizerInUse) {
		return ctrl.Result{}, nil // created and deleted before it was ever protected
	}
	if !deleting && !controllerutil.ContainsFinalizer(obj, accessv1alpha1.FinalizerInUse) {
		orig := obj.DeepCopyObject().(client.Object)
		controllerutil.AddFinalizer(obj, accessv1alpha1.FinalizerInUse)
		if err := r.kube.Patch(ctx, obj, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})); err != nil {
			if apierrors.IsNotFound(err) {
				return ctrl.Result{}, nil
			}
			return conflictRetry(err, "cannot add finalizer")
		}
	}
	orig := obj.DeepCopyObject().(reconciler.StatusObject)
	st := cfg.Status
	st.Users = int32(len(users))
	st.UsedBy = nil
	if len(users) > 0 {
		st.UsedBy = users[:min(len(users), accessv1alpha1.MaxUsedBy)]
	}
	newlyWaiting := false
	if deleting {
		msg := inUseMessage(cfg, users)
		before := meta.FindStatusCondition(st.Conditions, accessv1alpha1.TypeReconciling)
		newlyWaiting = before == nil || before.Reason != accessv1alpha1.ReasonInUse
		markInUse(&st.CommonStatus, obj.GetGeneration(), msg)
	}
	if !equality.Semantic.DeepEqual(orig.StatusValue(), obj.StatusValue()) {
		if err := r.kube.Status().Patch(ctx, obj, client.MergeFrom(orig)); err != nil {
			return ctrl.Result{}, client.IgnoreNotFound(err)
		}
	}
	if newlyWaiting {
		r.recorder.Eventf(obj, nil, corev1.EventTypeNormal, accessv1alpha1.ReasonInUse, "Delete", "%s", inUseMessage(cfg, users))
	}
	return ctrl.Result{}, nil
}

// conflictRetry comes back soon after a finalizer patch lost a race with a status write (the
// verifying reconciler writes the same object), instead of the error backoff; other errors
// are returned.
func conflictRetry(err error, what string) (ctrl.Result, error) {
	if apierrors.IsConflict(err) {
		return ctrl.Result{RequeueAfter: 50 * time.Millisecond}, nil
	}
	return ctrl.Result{}, fmt.Errorf("%s: %w", what, err)
}

// markInUse says in the conditions that a deletion waits for users: Reconciling=True with
// reason InUse (Argo CD and kstatus show Progressing with the message). Ready stays as last
// verified: the objects still using the config need it to apply their deletion policy
// (connection.Config.Ready).
func markInUse(st *accessv1alpha1.CommonStatus, generation int64, msg string) {
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: accessv1alpha1.TypeReconciling, Status: metav1.ConditionTrue,
		Reason: accessv1alpha1.ReasonInUse, Message: msg, ObservedGeneration: generation})
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: accessv1alpha1.TypeStalled, Status: metav1.ConditionFalse,
		Reason: accessv1alpha1.ReasonInUse, ObservedGeneration: generation})
	st.ObservedGeneration = generation
}

// inUseMessage says why the deletion of c waits, naming a few of its users.
func inUseMessage(c *connection.Config, users []string) string {
	names := strings.Join(users[:min(len(users), 3)], ", ")
	if len(users) > 3 {
		names += fmt.Sprintf(" and %d more (status.usedBy)", len(users)-3)
	}
	return fmt.Sprintf("deletion waits until the %d object(s) using this %s are gone: %s. Delete them (their deletionPolicy is applied with this config), or point them at another config",
		len(users), c.Kind, names)
}

// setupConfigUsage registers the usage reconciler of one config kind.
func setupConfigUsage(mgr ctrl.Manager, pool *connection.Pool, cluster bool, o Options) error {
	r := &configUsageReconciler{kube: mgr.GetClient(), pool: pool, recorder: mgr.GetEventRecorder("contactsync"), cluster: cluster}
	name := "providerconfig-usage"
	if cluster {
		name = "clusterproviderconfig-usage"
	}
	b := ctrl.NewControllerManagedBy(mgr).Named(name).For(newConfig(cluster))
	return watchDependants(b, cluster).
		WithOptions(controller.Options{MaxConcurrentReconciles: o.MaxConcurrentReconciles, RateLimiter: errorBackoff()}).
		Complete(r)
}
