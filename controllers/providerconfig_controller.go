package controllers

import (
	"context"
	"fmt"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	accessv1alpha1 "github.com/contactsync/contactsync/api/v1alpha1"
	"github.com/contactsync/contactsync/internal/external/connection"
	"github.com/contactsync/contactsync/internal/plan"
	"github.com/contactsync/contactsync/internal/reconciler"
)

// ProviderConfigReconciler verifies the credentials of each ProviderConfig against its API and
// keeps the shared connection of the account up to date.
type ProviderConfigReconciler struct {
	client.Client
	Pool *connection.Pool
	Now  func() time.Time
}

// +kubebuilder:rbac:groups=access.contactsync.dev,resources=providerconfigs,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=access.contactsync.dev,resources=providerconfigs/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=access.contactsync.dev,resources=providerconfigs/finalizers,verbs=update

// Reconcile verifies the credentials with the cheapest call of the provider. Its status goes
// through the same writer as every kind: written only when it changed, lastSyncTime at most
// hourly.
func (r *ProviderConfigReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	pc := &accessv1alpha1.ProviderConfig{}
	if err := r.Get(ctx, req.NamespacedName, pc); err != nil {
		if apierrors.IsNotFound(err) {
			r.Pool.Forget(req.NamespacedName)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	if !pc.DeletionTimestamp.IsZero() {
		r.Pool.Forget(req.NamespacedName)
		return ctrl.Result{}, nil
	}
	orig := pc.DeepCopy()
	interval := r.Pool.SyncInterval(nil, pc)
	o, identity, err := r.verify(ctx, pc)
	if err == nil && o.Kind == reconciler.KindReady && pc.Spec.HostUp != nil {
		err = r.audit(ctx, pc, interval)
	}
	if err != nil {
		o = reconciler.Classify(err)
	}
	if o.Kind == reconciler.KindReady {
		pc.Status.Identity = identity
		now := metav1.NewTime(r.now())
		pc.Status.LastSyncTime = &now
	}
	if err := reconciler.WriteStatus(ctx, r.Client, pc, orig, o); err != nil {
		return ctrl.Result{}, err
	}
	if o.Kind == reconciler.KindRetrying {
		if ra := reconciler.RetryAfter(err); ra > 0 {
			return ctrl.Result{RequeueAfter: ra}, nil
		}
		return ctrl.Result{}, fmt.Errorf("%s", o.Message)
	}
	// Stalled: a person must fix the Secret or the spec; both are watched. Re-check rarely.
	return ctrl.Result{RequeueAfter: reconciler.Jitter(interval)}, nil
}

func (r *ProviderConfigReconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// verify connects and calls the provider's cheapest authenticated endpoint.
func (r *ProviderConfigReconciler) verify(ctx context.Context, pc *accessv1alpha1.ProviderConfig) (reconciler.Outcome, string, error) {
	conn, err := r.Pool.Connect(ctx, r.Client, pc)
	if err != nil {
		return reconciler.Outcome{}, "", err
	}
	switch {
	case conn.HostUp != nil:
		info, err := conn.HostUp.SessionInfo(ctx)
		if err != nil {
			return reconciler.Outcome{}, "", err
		}
		if !info.Authenticated {
			return reconciler.Stalled(accessv1alpha1.ReasonCredentialsRejected, "HostUp says the API key is not authenticated: check the key in the Secret", true), "", nil
		}
		identity := "hostup"
		if info.AuthType != "" {
			identity += " (" + info.AuthType + ")"
		}
		if info.IsContact {
			identity += ", a contact person's key"
		}
		return reconciler.Ready(accessv1alpha1.ReasonCredentialsVerified, "HostUp accepted the API key."), identity, nil
	default:
		u, err := conn.OnlyOffice.Self(ctx)
		if err != nil {
			return reconciler.Outcome{}, "", err
		}
		msg := "ONLYOFFICE accepted the credentials."
		if !u.IsAdmin {
			msg += " The user is not a portal administrator: private contacts it does not manage cannot be read or changed."
		}
		return reconciler.Ready(accessv1alpha1.ReasonCredentialsVerified, msg), fmt.Sprintf("%s <%s>", u.DisplayName, u.Email), nil
	}
}

// audit lists, in status.undeclaredGrants, the account's live grants (pending or active) that
// no DelegatedGrant of the namespace declares, and gauges the grants by state. It reads the
// same shared, once-per-interval observation as the DelegatedGrants.
func (r *ProviderConfigReconciler) audit(ctx context.Context, pc *accessv1alpha1.ProviderConfig, interval time.Duration) error {
	conn, err := r.Pool.Connect(ctx, r.Client, pc)
	if err != nil {
		return err
	}
	grants, _, err := conn.Grants(ctx, interval, r.now())
	if err != nil {
		return err
	}
	list := &accessv1alpha1.DelegatedGrantList{}
	if err := r.List(ctx, list, client.InNamespace(pc.Namespace), client.MatchingFields{indexProviderConfig: pc.Name}); err != nil {
		return fmt.Errorf("cannot list DelegatedGrants: %w", err)
	}
	declared := map[string]bool{}
	for _, dg := range list.Items {
		for _, id := range []string{dg.Status.GrantID, dg.Annotations[accessv1alpha1.AnnotationCreatedID]} {
			if id != "" {
				declared[id] = true
			}
		}
	}
	counts := map[[2]string]float64{}
	var undeclared []accessv1alpha1.UndeclaredGrant
	now := r.now()
	for _, g := range grants {
		state := plan.GrantState(plan.GrantTimes{Status: g.Status, InviteExpiresAt: g.InviteExpiresAt, InviteAcceptedAt: g.InviteAcceptedAt, RevokedAt: g.RevokedAt}, now)
		counts[[2]string{string(state), fmt.Sprint(declared[g.ID])}]++
		if declared[g.ID] || state == accessv1alpha1.GrantRevoked || state == accessv1alpha1.GrantExpired {
			continue
		}
		email := g.GranteeEmail
		if email == "" {
			email = g.InviteEmail
		}
		undeclared = append(undeclared, accessv1alpha1.UndeclaredGrant{ID: g.ID, Email: email, Label: g.Label, State: state})
	}
	sort.Slice(undeclared, func(i, j int) bool { return undeclared[i].ID < undeclared[j].ID })
	pc.Status.UndeclaredGrantsTotal = int32(len(undeclared))
	pc.Status.UndeclaredGrants = undeclared[:min(len(undeclared), accessv1alpha1.MaxUndeclaredGrants)]
	for _, st := range []accessv1alpha1.GrantState{accessv1alpha1.GrantPending, accessv1alpha1.GrantActive, accessv1alpha1.GrantExpired, accessv1alpha1.GrantRevoked} {
		for _, d := range []string{"true", "false"} {
			connection.GrantsByState.WithLabelValues(pc.Namespace, pc.Name, string(st), d).Set(counts[[2]string{string(st), d}])
		}
	}
	return nil
}

// SetupWithManager registers the reconciler; a change to a referenced Secret re-verifies.
func (r *ProviderConfigReconciler) SetupWithManager(mgr ctrl.Manager, o Options) error {
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &accessv1alpha1.ProviderConfig{}, indexSecretName,
		func(obj client.Object) []string {
			pc := obj.(*accessv1alpha1.ProviderConfig)
			switch {
			case pc.Spec.HostUp != nil:
				return []string{pc.Spec.HostUp.APIKeySecretRef.Name}
			case pc.Spec.OnlyOffice != nil:
				return []string{pc.Spec.OnlyOffice.CredentialsSecretRef.Name}
			}
			return nil
		}); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&accessv1alpha1.ProviderConfig{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.forSecret),
			builder.WithPredicates(predicate.ResourceVersionChangedPredicate{})).
		WithOptions(controller.Options{MaxConcurrentReconciles: o.MaxConcurrentReconciles, RateLimiter: errorBackoff()}).
		Complete(r)
}

const indexSecretName = "spec.secretName"

func (r *ProviderConfigReconciler) forSecret(ctx context.Context, s client.Object) []reconcile.Request {
	return requestsFor(ctx, r, &accessv1alpha1.ProviderConfigList{}, s.GetNamespace(), indexSecretName, s.GetName())
}
