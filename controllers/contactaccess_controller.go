package controllers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	accessv1alpha1 "github.com/contactsync/contactsync/api/v1alpha1"
)

// Event reasons.
const (
	eventCreated        = "Created"
	eventUpdated        = "Updated"
	eventDriftCorrected = "DriftCorrected"
	eventDriftDetected  = "DriftDetected"
	eventRevoked        = "Revoked"
	eventDeleted        = "Deleted"
	eventOrphaned       = "Orphaned"
)

// ContactAccessReconciler makes a contact's permissions in HostUp or ONLYOFFICE equal its spec:
// observe → plan → apply → verify → status.
type ContactAccessReconciler struct {
	client.Client
	Connections *Connections
	Recorder    events.EventRecorder
	Now         func() time.Time
	retries     retryBackoff

	// afterCreate, when set (tests only), runs between a create call and the recording of its
	// id; an error from it stands for a crash at that point.
	afterCreate func() error
}

// +kubebuilder:rbac:groups=access.contactsync.dev,resources=contactaccesses,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=access.contactsync.dev,resources=contactaccesses/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=access.contactsync.dev,resources=contactaccesses/finalizers,verbs=update

// errStop ends a reconcile whose outcome is already in the status.
var errStop = errors.New("stop")

// caRun is the state of one reconcile of one ContactAccess.
type caRun struct {
	runState
	r   *ContactAccessReconciler
	obj *accessv1alpha1.ContactAccess
}

// Reconcile implements the reconcile shape of the design.
func (r *ContactAccessReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	obj := &accessv1alpha1.ContactAccess{}
	if err := r.Get(ctx, req.NamespacedName, obj); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	orig := obj.DeepCopy()
	run := &caRun{r: r, obj: obj, runState: runState{interval: defaultSyncInterval}}

	if !obj.DeletionTimestamp.IsZero() {
		return run.delete(ctx, orig)
	}
	orig, err := ensureFinalizer(ctx, r.Client, obj, orig)
	if err != nil {
		return ctrl.Result{}, err
	}
	run.sync(ctx)
	return run.complete(ctx, r.Client, r.Recorder, &r.retries, obj, orig)
}

func (r *ContactAccessReconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// connect finds the ProviderConfig (in the object's own namespace only) and its connection.
func (run *caRun) connect(ctx context.Context) error {
	obj := run.obj
	if !run.runState.connect(ctx, run.r.Client, run.r.Connections, obj.Namespace, obj.Spec.ProviderConfigRef.Name, obj.Spec.HostUp != nil, obj.Spec.SyncInterval) {
		return errStop
	}
	return nil
}

// sync runs connect → observe → plan → apply → verify for the object's provider.
func (run *caRun) sync(ctx context.Context) {
	if err := run.connect(ctx); err != nil {
		return
	}
	switch {
	case run.obj.Spec.HostUp != nil:
		run.syncHostUp(ctx)
	default:
		run.syncOnlyOffice(ctx)
	}
}

// finish records a successful observation: what was read, the drift found, and the outcome.
func (run *caRun) finish(ctx context.Context, drift, pending []string, wrote bool) {
	obj := run.obj
	if len(pending) > 0 && !slices.Equal(pending, obj.Status.Plan) {
		run.r.Recorder.Eventf(obj, nil, "Normal", eventDriftDetected, "Observe", "%s", truncate("Plan (not applied, managementPolicy Observe): "+strings.Join(pending, "; "), 1000))
	}
	now := metav1.NewTime(run.r.now())
	obj.Status.LastSyncTime = &now
	obj.Status.Drift = drift
	obj.Status.Plan = pending
	switch {
	case len(pending) > 0:
		// Observe reports the plan; the reason (ObserveOnly) says the provider still differs.
		run.out = observed(fmt.Sprintf("managementPolicy is Observe: %d change(s) pending, see status.plan; nothing was written", len(pending)))
	case obj.Spec.ManagementPolicy == accessv1alpha1.ManagementObserve:
		run.out = ready(accessv1alpha1.ReasonAvailable, "The provider matches the spec (managementPolicy Observe: nothing is ever written).")
	default:
		run.out = ready(accessv1alpha1.ReasonAvailable, "The provider matches the spec (verified by a read).")
	}
	if wrote {
		reason, note := eventUpdated, "Applied: "+strings.Join(drift, "; ")
		// Conditions still hold the previous reconcile's outcome here: Ready at this generation
		// means the provider had matched this spec, so what differs now was changed outside.
		if isReady(obj.Status.Conditions, obj.Generation) && len(drift) > 0 {
			reason, note = eventDriftCorrected, "Drift corrected: "+strings.Join(drift, "; ")
		}
		run.r.Recorder.Eventf(obj, nil, "Normal", reason, "Update", "%s", truncate(note, 1000))
		logf.FromContext(ctx).Info("applied", "changes", drift)
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// SetupWithManager registers the reconciler. A ProviderConfig becoming Ready (or changing)
// wakes the objects that use it; our own status writes do not trigger reconciles.
func (r *ContactAccessReconciler) SetupWithManager(mgr ctrl.Manager, o Options) error {
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &accessv1alpha1.ContactAccess{}, indexProviderConfig,
		func(obj client.Object) []string {
			return []string{obj.(*accessv1alpha1.ContactAccess).Spec.ProviderConfigRef.Name}
		}); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&accessv1alpha1.ContactAccess{}, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		Watches(&accessv1alpha1.ProviderConfig{}, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, pc client.Object) []reconcile.Request {
			return requestsFor(ctx, r, &accessv1alpha1.ContactAccessList{}, pc.GetNamespace(), indexProviderConfig, pc.GetName())
		}), builder.WithPredicates(providerConfigReadinessChanged())).
		WithOptions(controller.Options{MaxConcurrentReconciles: o.MaxConcurrentReconciles, RateLimiter: errorBackoff()}).
		Complete(r)
}

const indexProviderConfig = "spec.providerConfigRef.name"

// providerConfigReadinessChanged passes ProviderConfig events that matter to the objects using
// it: creation, deletion, a spec change, or a change of its Ready condition.
func providerConfigReadinessChanged() predicate.Predicate {
	return predicate.Funcs{
		UpdateFunc: func(e event.UpdateEvent) bool {
			o, n := e.ObjectOld.(*accessv1alpha1.ProviderConfig), e.ObjectNew.(*accessv1alpha1.ProviderConfig)
			return o.Generation != n.Generation || isReady(o.Status.Conditions, o.Generation) != isReady(n.Status.Conditions, n.Generation)
		},
	}
}
