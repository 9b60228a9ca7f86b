package controllers

import (
	"context"
	"fmt"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	accessv1alpha1 "github.com/contactsync/contactsync/api/v1alpha1"
	"github.com/contactsync/contactsync/internal/hostup"
	"github.com/contactsync/contactsync/internal/onlyoffice"
	"github.com/contactsync/contactsync/internal/plan"
)

// ProviderConfigReconciler verifies the credentials of each ProviderConfig against its API and
// keeps the shared connection of the account up to date.
type ProviderConfigReconciler struct {
	client.Client
	Connections *Connections
	Now         func() time.Time
}

// +kubebuilder:rbac:groups=access.contactsync.dev,resources=providerconfigs,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=access.contactsync.dev,resources=providerconfigs/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=access.contactsync.dev,resources=providerconfigs/finalizers,verbs=update

// Reconcile verifies the credentials with the cheapest call of the provider.
func (r *ProviderConfigReconciler) Reconcile(ctx context.Context, req ctrl.Request) (res ctrl.Result, retErr error) {
	log := logf.FromContext(ctx)
	pc := &accessv1alpha1.ProviderConfig{}
	if err := r.Get(ctx, req.NamespacedName, pc); err != nil {
		if apierrors.IsNotFound(err) {
			r.Connections.Forget(req.NamespacedName)
			return ctrl.Result{}, nil
		}
		return ctrl.Result{}, err
	}
	if !pc.DeletionTimestamp.IsZero() {
		r.Connections.Forget(req.NamespacedName)
		return ctrl.Result{}, nil
	}
	orig := pc.DeepCopy()
	defer func() {
		if equality.Semantic.DeepEqual(orig.Status, pc.Status) {
			return
		}
		pc.Status.ObservedGeneration = pc.Generation
		if err := r.Status().Patch(ctx, pc, client.MergeFrom(orig)); err != nil && !apierrors.IsNotFound(err) {
			log.Error(err, "cannot write status")
			if retErr == nil {
				retErr = err
			}
		}
	}()

	interval := defaultSyncInterval
	if pc.Spec.SyncInterval != nil {
		interval = pc.Spec.SyncInterval.Duration
	}
	o, identity, retryAfter := r.verify(ctx, pc)
	if o.kind == outcomeReady && pc.Spec.HostUp != nil {
		if err := r.audit(ctx, pc, interval); err != nil {
			o = classify(err)
			retryAfter = retryAfterOf(err)
		}
	}
	o.apply(&pc.Status.Conditions, pc.Generation)
	pc.Status.ObservedGeneration = pc.Generation
	if o.kind == outcomeReady {
		pc.Status.Identity = identity
		now := metav1.NewTime(r.now())
		pc.Status.LastSyncTime = &now
	}
	switch o.kind {
	case outcomeRetrying:
		if retryAfter > 0 {
			return ctrl.Result{RequeueAfter: retryAfter}, nil
		}
		return ctrl.Result{}, fmt.Errorf("%s", o.message)
	case outcomeStalled:
		// A person must fix the Secret or the spec; both are watched. Re-check rarely.
		return ctrl.Result{RequeueAfter: jitter(interval)}, nil
	}
	return ctrl.Result{RequeueAfter: jitter(interval)}, nil
}

func (r *ProviderConfigReconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// verify connects and calls the provider's cheapest authenticated endpoint.
func (r *ProviderConfigReconciler) verify(ctx context.Context, pc *accessv1alpha1.ProviderConfig) (outcome, string, time.Duration) {
	conn, err := r.Connections.Connect(ctx, r.Client, pc)
	if err != nil {
		if ce, ok := asConnectError(err); ok {
			return stalled(ce.reason, ce.message, false), "", 0
		}
		return retrying(accessv1alpha1.ReasonAPIError, err.Error()), "", 0
	}
	switch {
	case conn.HostUp != nil:
		info, err := conn.HostUp.SessionInfo(ctx)
		if err != nil {
			return classify(err), "", retryAfterOf(err)
		}
		if !info.Authenticated {
			return stalled(accessv1alpha1.ReasonCredentialsRejected, "HostUp says the API key is not authenticated: check the key in the Secret", true), "", 0
		}
		identity := "hostup"
		if info.AuthType != "" {
			identity += " (" + info.AuthType + ")"
		}
		if info.IsContact {
			identity += ", a contact person's key"
		}
		return ready(accessv1alpha1.ReasonCredentialsVerified, "HostUp accepted the API key."), identity, 0
	default:
		u, err := conn.OnlyOffice.Self(ctx)
		if err != nil {
			return classify(err), "", retryAfterOf(err)
		}
		msg := "ONLYOFFICE accepted the credentials."
		if !u.IsAdmin {
			msg += " The user is not a portal administrator: private contacts it does not manage cannot be read or changed."
		}
		return ready(accessv1alpha1.ReasonCredentialsVerified, msg), fmt.Sprintf("%s <%s>", u.DisplayName, u.Email), 0
	}
}

// audit lists, in status.undeclaredGrants, the account's live grants (pending or active) that
// no DelegatedGrant of the namespace declares, and gauges the grants by state. It reads the
// same shared, once-per-interval observation as the DelegatedGrants.
func (r *ProviderConfigReconciler) audit(ctx context.Context, pc *accessv1alpha1.ProviderConfig, interval time.Duration) error {
	conn, err := r.Connections.Connect(ctx, r.Client, pc)
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
	pc.Status.UndeclaredGrants = undeclared
	for _, st := range []accessv1alpha1.GrantState{accessv1alpha1.GrantPending, accessv1alpha1.GrantActive, accessv1alpha1.GrantExpired, accessv1alpha1.GrantRevoked} {
		for _, d := range []string{"true", "false"} {
			grantsByState.WithLabelValues(pc.Namespace, pc.Name, string(st), d).Set(counts[[2]string{string(st), d}])
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

// classify turns a provider error into an outcome: credentials and permission problems stall
// (a person must act); everything else is retried with backoff.
func classify(err error) outcome {
	switch {
	case onlyoffice.IsLockout(err):
		return retrying(accessv1alpha1.ReasonRateLimited, err.Error()+": ONLYOFFICE locked the login after repeated failures; retrying when the lock ends")
	case onlyoffice.IsConfig(err):
		return stalled(accessv1alpha1.ReasonCredentialsRejected, err.Error()+": use a service account without two-factor login", true)
	case hostup.IsAuth(err) && isForbidden(err), onlyoffice.IsForbidden(err):
		return stalled(accessv1alpha1.ReasonForbidden, err.Error(), true)
	case hostup.IsAuth(err), onlyoffice.IsAuth(err):
		return stalled(accessv1alpha1.ReasonCredentialsRejected, err.Error()+": check the credentials in the Secret", true)
	case hostup.RetryAfter(err) > 0, onlyoffice.RetryAfter(err) > 0:
		return retrying(accessv1alpha1.ReasonRateLimited, err.Error())
	}
	return retrying(accessv1alpha1.ReasonAPIError, err.Error())
}

func retryAfterOf(err error) time.Duration {
	return max(hostup.RetryAfter(err), onlyoffice.RetryAfter(err))
}
