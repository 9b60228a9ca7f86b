package controllers

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	accessv1alpha1 "github.com/contactsync/contactsync/api/v1alpha1"
	"github.com/contactsync/contactsync/internal/hostup"
	"github.com/contactsync/contactsync/internal/plan"
)

const (
	eventInvited  = "Invited"
	eventReinvite = "Reinvited"
	eventAdopted  = "Adopted"
	// inviteTokenKey is the key of the invite token in spec.inviteTokenSecretRef's Secret.
	inviteTokenKey = "inviteToken"
)

// DelegatedGrantReconciler keeps one HostUp delegated-access invitation per object and reports
// its lifecycle. All grants of an account are observed through one shared list per poll.
type DelegatedGrantReconciler struct {
	client.Client
	Connections *Connections
	Recorder    events.EventRecorder
	Now         func() time.Time
	retries     retryBackoff
}

// +kubebuilder:rbac:groups=access.contactsync.dev,resources=delegatedgrants,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=access.contactsync.dev,resources=delegatedgrants/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=access.contactsync.dev,resources=delegatedgrants/finalizers,verbs=update

type dgRun struct {
	runState
	r   *DelegatedGrantReconciler
	obj *accessv1alpha1.DelegatedGrant
}

func (r *DelegatedGrantReconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// Reconcile implements the reconcile shape for one DelegatedGrant.
func (r *DelegatedGrantReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	obj := &accessv1alpha1.DelegatedGrant{}
	if err := r.Get(ctx, req.NamespacedName, obj); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	orig := obj.DeepCopy()
	run := &dgRun{r: r, obj: obj, runState: runState{interval: defaultSyncInterval}}
	deleting := !obj.DeletionTimestamp.IsZero()
	if deleting {
		if !controllerutil.ContainsFinalizer(obj, accessv1alpha1.Finalizer) {
			return ctrl.Result{}, nil
		}
		if run.delete(ctx) {
			controllerutil.RemoveFinalizer(obj, accessv1alpha1.Finalizer)
			if err := r.Patch(ctx, obj, client.MergeFrom(orig)); err != nil && !apierrors.IsNotFound(err) {
				return ctrl.Result{}, err
			}
			return ctrl.Result{}, nil
		}
	} else {
		var err error
		if orig, err = ensureFinalizer(ctx, r.Client, obj, orig); err != nil {
			return ctrl.Result{}, err
		}
		run.sync(ctx)
	}

	return run.complete(ctx, r.Client, r.Recorder, &r.retries, obj, orig)
}

func (run *dgRun) connect(ctx context.Context) bool {
	obj := run.obj
	return run.runState.connect(ctx, run.r.Client, run.r.Connections, obj.Namespace, obj.Spec.ProviderConfigRef.Name, true, obj.Spec.SyncInterval)
}

// grantID is the id this object owns: recorded in metadata (survives a status loss) and status.
func (run *dgRun) grantID() string {
	if id := run.obj.Annotations[accessv1alpha1.AnnotationCreatedID]; id != "" {
		return id
	}
	return run.obj.Status.GrantID
}

// observe returns the account's grants and this object's grant (nil when it has none).
func (run *dgRun) observe(ctx context.Context) ([]hostup.Grant, *hostup.Grant, bool) {
	grants, _, err := run.conn.Grants(ctx, run.interval, run.r.now())
	if err != nil {
		run.fail(err)
		return nil, nil, false
	}
	id := run.grantID()
	for i := range grants {
		if id != "" && grants[i].ID == id {
			return grants, &grants[i], true
		}
	}
	return grants, nil, true
}

func (run *dgRun) sync(ctx context.Context) {
	if !run.connect(ctx) {
		return
	}
	_, g, ok := run.observe(ctx)
	if !ok {
		return
	}
	if g == nil && run.grantID() != "" {
		// Not in the shared copy: it may be older than our own write. Look once more, fresh.
		run.conn.InvalidateGrants()
		if _, g, ok = run.observe(ctx); !ok {
			return
		}
	}
	if g == nil {
		if !run.ensureInvite(ctx) {
			return
		}
		if _, g, ok = run.observe(ctx); !ok {
			return
		}
		if g == nil {
			run.fail(fmt.Errorf("cannot find grant %s in HostUp's list right after creating it", run.grantID()))
			return
		}
	}
	run.report(ctx, g)
}

// ensureInvite creates the invitation behind the crash-safe guard (or adopts the one a
// previous, interrupted attempt created). It reports whether the object now has a grant id.
func (run *dgRun) ensureInvite(ctx context.Context) bool {
	obj, r := run.obj, run.r
	if _, pending := obj.Annotations[accessv1alpha1.AnnotationCreatePending]; pending {
		// Unlike HostUp contacts, grants can be listed: find what the interrupted attempt made.
		run.conn.InvalidateGrants()
		grants, _, ok := run.observe(ctx)
		if !ok {
			return false
		}
		if g := findInterrupted(grants, obj); g != nil {
			if err := run.record(ctx, g.ID); err != nil {
				run.fail(err)
				return false
			}
			r.Recorder.Eventf(obj, nil, corev1.EventTypeNormal, eventAdopted, "Create",
				"Found grant %s that an interrupted attempt created for %s; recorded it instead of inviting again", g.ID, obj.Spec.Email)
			return true
		}
		// The fresh list has none: nothing was created, so inviting is safe.
	}
	if obj.Spec.ManagementPolicy == accessv1alpha1.ManagementObserve {
		obj.Status.Plan = []string{fmt.Sprintf("invite %s (label %q)", obj.Spec.Email, obj.Spec.Label)}
		obj.Status.State = ""
		run.out = observed("managementPolicy is Observe: the invitation would be sent; nothing was written")
		return false
	}
	return run.invite(ctx, eventInvited)
}

// findInterrupted finds the grant an interrupted invite created: same e-mail, created no
// earlier than a minute before the recorded intent.
func findInterrupted(grants []hostup.Grant, obj *accessv1alpha1.DelegatedGrant) *hostup.Grant {
	at, pending := obj.Annotations[accessv1alpha1.AnnotationCreatePending]
	if !pending {
		return nil
	}
	since, _ := time.Parse(time.RFC3339, at)
	for i := range grants {
		g := &grants[i]
		if strings.EqualFold(g.InviteEmail, obj.Spec.Email) && !g.CreatedAt.Before(since.Add(-time.Minute)) {
			return g
		}
	}
	return nil
}

// invite sends a new invitation, with intent recorded before the call and the id right after.
func (run *dgRun) invite(ctx context.Context, reason string) bool {
	obj, r := run.obj, run.r
	before := obj.DeepCopy()
	if obj.Annotations == nil {
		obj.Annotations = map[string]string{}
	}
	obj.Annotations[accessv1alpha1.AnnotationCreatePending] = r.now().UTC().Format(time.RFC3339)
	if err := r.Patch(ctx, obj, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil {
		run.fail(fmt.Errorf("cannot record the intent to invite: %w", err))
		return false
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), detachedTimeout) // see createHostUpContact
	defer cancel()
	inv, err := run.conn.HostUp.CreateGrant(ctx, obj.Spec.Email, obj.Spec.Label)
	if err != nil {
		// Whatever happened, the next reconcile lists the grants afresh and adopts or re-invites.
		run.conn.InvalidateGrants()
		run.fail(err)
		return false
	}
	// The answer is authoritative for the new grant: add it to the shared copy rather than
	// listing the whole account again.
	created := inv.CreatedAt
	expires := inv.InviteExpiresAt
	run.conn.AddGrant(hostup.Grant{ID: inv.ID, InviteEmail: obj.Spec.Email, Label: obj.Spec.Label, CreatedAt: created, UpdatedAt: created, InviteExpiresAt: &expires})
	if err := run.record(ctx, inv.ID); err != nil {
		run.fail(err)
		return false
	}
	if ref := obj.Spec.InviteTokenSecretRef; ref != nil {
		if err := run.writeToken(ctx, ref.Name, inv.InviteToken); err != nil {
			r.Recorder.Eventf(obj, nil, corev1.EventTypeWarning, "InviteTokenNotStored", "Create",
				"cannot write the invite token to Secret %q: %v", ref.Name, err)
		}
	}
	r.Recorder.Eventf(obj, nil, corev1.EventTypeNormal, reason, "Create", "Invited %s (grant %s)", obj.Spec.Email, inv.ID)
	return true
}

// record stores the grant id in metadata (and drops the intent), retried in-process because
// the id exists nowhere else on our side.
func (run *dgRun) record(ctx context.Context, id string) error {
	obj := run.obj
	err := wait.ExponentialBackoffWithContext(ctx, wait.Backoff{Duration: 200 * time.Millisecond, Factor: 2, Steps: 6},
		func(ctx context.Context) (bool, error) {
			before := obj.DeepCopy()
			delete(obj.Annotations, accessv1alpha1.AnnotationCreatePending)
			obj.Annotations[accessv1alpha1.AnnotationCreatedID] = id
			return run.r.Patch(ctx, obj, client.MergeFrom(before)) == nil, nil
		})
	if err != nil {
		return fmt.Errorf("cannot record grant id %s on the object: %w", id, err)
	}
	obj.Status.GrantID = id
	return nil
}

// writeToken stores the invite token in a Secret of the object's namespace, owned by the
// object. The token is a credential: it goes nowhere else.
func (run *dgRun) writeToken(ctx context.Context, name, token string) error {
	obj := run.obj
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: obj.Namespace, Name: name}}
	_, err := controllerutil.CreateOrPatch(ctx, run.r.Client, s, func() error {
		if s.Data == nil {
			s.Data = map[string][]byte{}
		}
		s.Data[inviteTokenKey] = []byte(token)
		s.Type = corev1.SecretTypeOpaque
		return controllerutil.SetOwnerReference(obj, s, run.r.Scheme())
	})
	return err
}

// report writes the grant's lifecycle into status and decides the outcome.
func (run *dgRun) report(ctx context.Context, g *hostup.Grant) {
	obj := run.obj
	now := run.r.now()
	state := plan.GrantState(plan.GrantTimes{Status: g.Status, InviteExpiresAt: g.InviteExpiresAt, InviteAcceptedAt: g.InviteAcceptedAt, RevokedAt: g.RevokedAt}, now)
	st := &obj.Status
	st.GrantID = g.ID
	st.State = state
	st.InviteExpiresAt = metaTime(g.InviteExpiresAt)
	st.AcceptedAt = metaTime(g.InviteAcceptedAt)
	st.Plan = nil
	st.Grantee = nil
	if g.GranteeClientID != "" || g.GranteeEmail != "" {
		st.Grantee = &accessv1alpha1.Grantee{ClientID: g.GranteeClientID, Name: g.GranteeName, Email: g.GranteeEmail, Company: g.GranteeCompany}
	}
	st.Permissions = nil
	if state == accessv1alpha1.GrantActive {
		p, err := run.conn.HostUp.GetGrantPermissions(ctx, g.ID)
		if err != nil {
			run.fail(err)
			return
		}
		observed, names, _ := hostupObserved(&p.Permissions)
		st.Permissions = observedHostUpStatus(observed, names)
		if p.CanRequestEpp {
			st.Permissions.Rights = append(st.Permissions.Rights, "canRequestEpp")
		}
	}
	t := metav1.NewTime(now)
	st.LastSyncTime = &t

	switch state {
	case accessv1alpha1.GrantActive:
		run.out = ready(accessv1alpha1.ReasonAvailable, fmt.Sprintf("grant %s is active: %s accepted the invitation", g.ID, obj.Spec.Email))
	case accessv1alpha1.GrantPending:
		run.out = ready(accessv1alpha1.ReasonInvitePending, fmt.Sprintf("grant %s: the invitation to %s is waiting to be accepted%s", g.ID, obj.Spec.Email, expiresText(g.InviteExpiresAt)))
	case accessv1alpha1.GrantExpired:
		if obj.Spec.ReinviteOnExpiry && obj.Spec.ManagementPolicy == accessv1alpha1.ManagementObserve {
			st.Plan = []string{fmt.Sprintf("re-invite %s: invitation %s expired unaccepted", obj.Spec.Email, g.ID)}
			run.out = observed("managementPolicy is Observe: a new invitation would be sent; nothing was written")
			return
		}
		if obj.Spec.ReinviteOnExpiry {
			if run.invite(ctx, eventReinvite) {
				run.out = progressing(accessv1alpha1.ReasonCreating, fmt.Sprintf("the invitation %s expired unaccepted; a new one was sent", g.ID), true)
				run.retryAfter = time.Second
			}
			return
		}
		run.out = stalled(accessv1alpha1.ReasonInviteExpired, fmt.Sprintf(
			"the invitation %s to %s expired unaccepted: set spec.reinviteOnExpiry to send a new one, or delete this object", g.ID, obj.Spec.Email), true)
	case accessv1alpha1.GrantRevoked:
		run.out = stalled(accessv1alpha1.ReasonGrantRevoked, fmt.Sprintf(
			"grant %s was revoked in HostUp; it is not re-created behind a person's back: to invite %s again, delete this DelegatedGrant and create it anew",
			g.ID, obj.Spec.Email), true)
	}
}

func expiresText(t *time.Time) string {
	if t == nil {
		return ""
	}
	return " (expires " + t.UTC().Format(time.RFC3339) + ")"
}

func metaTime(t *time.Time) *metav1.Time {
	if t == nil {
		return nil
	}
	m := metav1.NewTime(*t)
	return &m
}

// delete applies the deletion policy; it reports whether the finalizer may go. HostUp
// documents no revoke call, so Revoke never pretends: unless the ProviderConfig enables the
// DELETE endpoint, the object stays, saying which grant a person must revoke in the dashboard,
// until a poll sees the grant revoked or expired.
func (run *dgRun) delete(ctx context.Context) bool {
	obj, r := run.obj, run.r
	if obj.Spec.DeletionPolicy == accessv1alpha1.GrantDeletionOrphan || obj.Spec.ManagementPolicy == accessv1alpha1.ManagementObserve {
		r.Recorder.Eventf(obj, nil, corev1.EventTypeNormal, eventOrphaned, "Delete", "deletionPolicy Orphan: grant %s was left in HostUp", run.grantID())
		return true
	}
	if run.grantID() == "" && obj.Annotations[accessv1alpha1.AnnotationCreatePending] == "" {
		return true // never invited
	}
	if !run.connect(ctx) {
		run.out.message = fmt.Sprintf("cannot check that grant %s is revoked: %s. Fix that, or set spec.deletionPolicy to Orphan to let the object go",
			run.grantID(), run.out.message)
		return false
	}
	run.conn.InvalidateGrants()
	grants, g, ok := run.observe(ctx)
	if !ok {
		return false
	}
	if g == nil && run.grantID() == "" {
		// An interrupted invite: find what it created, as ensureInvite would.
		g = findInterrupted(grants, obj)
	}
	if g == nil {
		return true // gone from the account, or never created
	}
	state := plan.GrantState(plan.GrantTimes{Status: g.Status, InviteExpiresAt: g.InviteExpiresAt, InviteAcceptedAt: g.InviteAcceptedAt, RevokedAt: g.RevokedAt}, r.now())
	obj.Status.State = state
	if state == accessv1alpha1.GrantRevoked || state == accessv1alpha1.GrantExpired {
		r.Recorder.Eventf(obj, nil, corev1.EventTypeNormal, eventRevoked, "Delete", "grant %s is %s in HostUp", g.ID, strings.ToLower(string(state)))
		return true
	}
	msg := fmt.Sprintf("deletionPolicy Revoke: HostUp documents no API to revoke a delegated grant, so revoke grant %s (%s) in the HostUp dashboard (Teams, Delegated access); "+
		"this object is removed once a poll sees it revoked. To let it go without revoking, set spec.deletionPolicy to Orphan", g.ID, obj.Spec.Email)
	asked := meta.FindStatusCondition(obj.Status.Conditions, accessv1alpha1.TypeReconciling)
	alreadyAsked := asked != nil && asked.Status == metav1.ConditionTrue && asked.Reason == accessv1alpha1.ReasonDeleting
	if run.conn.RevokeGrant != nil && alreadyAsked {
		msg = fmt.Sprintf("grantRevocation DeleteEndpoint: HostUp accepted the DELETE of grant %s but still lists it as %s, so it is not revoked. "+
			"Revoke it in the HostUp dashboard (Teams, Delegated access); this object is removed once a poll sees it revoked. "+
			"To let it go without revoking, set spec.deletionPolicy to Orphan", g.ID, strings.ToLower(string(state)))
	} else if run.conn.RevokeGrant != nil {
		// Enabled explicitly in the ProviderConfig. Success is not taken on trust: the grant
		// must read back revoked (or gone) before the finalizer goes.
		err := run.conn.RevokeGrant(ctx, g.ID)
		run.conn.InvalidateGrants()
		if err == nil {
			run.out = progressing(accessv1alpha1.ReasonDeleting, fmt.Sprintf("asked HostUp to revoke grant %s; waiting to read it back revoked", g.ID), true)
			run.retryAfter = time.Second
			return false
		}
		msg = fmt.Sprintf("grantRevocation DeleteEndpoint: HostUp refused to revoke grant %s (%v). Revoke it in the HostUp dashboard (Teams, Delegated access); "+
			"this object is removed once a poll sees it revoked. To let it go without revoking, set spec.deletionPolicy to Orphan", g.ID, err)
	}
	before := meta.FindStatusCondition(obj.Status.Conditions, accessv1alpha1.TypeStalled)
	if before == nil || before.Reason != accessv1alpha1.ReasonRevocationRequiresDashboard {
		r.Recorder.Eventf(obj, nil, corev1.EventTypeWarning, accessv1alpha1.ReasonRevocationRequiresDashboard, "Delete", "%s", msg)
	}
	run.out = stalled(accessv1alpha1.ReasonRevocationRequiresDashboard, msg, true)
	return false
}

// SetupWithManager registers the reconciler.
func (r *DelegatedGrantReconciler) SetupWithManager(mgr ctrl.Manager, o Options) error {
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &accessv1alpha1.DelegatedGrant{}, indexProviderConfig,
		func(obj client.Object) []string {
			return []string{obj.(*accessv1alpha1.DelegatedGrant).Spec.ProviderConfigRef.Name}
		}); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&accessv1alpha1.DelegatedGrant{}, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{}, predicate.AnnotationChangedPredicate{}))).
		Watches(&accessv1alpha1.ProviderConfig{}, handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, pc client.Object) []reconcile.Request {
			return requestsFor(ctx, r, &accessv1alpha1.DelegatedGrantList{}, pc.GetNamespace(), indexProviderConfig, pc.GetName())
		}), builder.WithPredicates(providerConfigReadinessChanged())).
		WithOptions(controller.Options{MaxConcurrentReconciles: o.MaxConcurrentReconciles, RateLimiter: errorBackoff()}).
		Complete(r)
}
