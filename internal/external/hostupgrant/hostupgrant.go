// Package hostupgrant is the external client of a DelegatedGrant: one HostUp delegated-access
// invitation, observed through the account's one shared grant list.
package hostupgrant

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	accessv1alpha1 "github.com/contactsync/contactsync/api/v1alpha1"
	"github.com/contactsync/contactsync/internal/external/connection"
	"github.com/contactsync/contactsync/internal/external/hostupcontact"
	"github.com/contactsync/contactsync/internal/hostup"
	"github.com/contactsync/contactsync/internal/plan"
	"github.com/contactsync/contactsync/internal/reconciler"
)

// Event reasons and the invite token's Secret key.
const (
	EventInvited   = "Invited"
	EventReinvited = "Reinvited"
	EventRevoked   = "Revoked"
	// EventInviteTokenNotStored: the invitation was sent but its token could not be written.
	EventInviteTokenNotStored = "InviteTokenNotStored"
	// InviteTokenKey is the key of the invite token in spec.inviteTokenSecretRef's Secret.
	InviteTokenKey = "inviteToken"
)

// External implements reconciler.External and reconciler.Finder for delegated grants.
type External struct {
	Conn *connection.Connection
	Kube client.Client
	// Metadata reads uncached object metadata (never a Secret's data): whether the invite
	// token Secret already exists. Nil skips the check.
	Metadata client.Reader
	Scheme   *runtime.Scheme
	Interval time.Duration
	Now      func() time.Time
}

var (
	_ reconciler.External[*accessv1alpha1.DelegatedGrant] = (*External)(nil)
	_ reconciler.Finder[*accessv1alpha1.DelegatedGrant]   = (*External)(nil)
	_ reconciler.Preparer[*accessv1alpha1.DelegatedGrant] = (*External)(nil)
)

// PrepareCreate refuses, before any invitation is sent, an inviteTokenSecretRef that names an
// existing Secret this DelegatedGrant does not control: the token Secret is only ever created
// (naming, say, the API-key Secret would otherwise add a key and an owner to it, and deleting
// the DelegatedGrant would garbage-collect it).
func (e *External) PrepareCreate(ctx context.Context, obj *accessv1alpha1.DelegatedGrant) error {
	ref := obj.Spec.InviteTokenSecretRef
	if ref == nil || e.Metadata == nil {
		return nil
	}
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	err := e.Metadata.Get(ctx, types.NamespacedName{Namespace: obj.Namespace, Name: ref.Name}, m)
	switch {
	case apierrors.IsNotFound(err):
		return nil
	case err != nil:
		return fmt.Errorf("cannot check Secret %q: %w", ref.Name, err)
	case metav1.IsControlledBy(m, obj):
		return nil
	}
	return reconciler.Fail(reconciler.Stalled(accessv1alpha1.ReasonInvalidSpec, fmt.Sprintf(
		"spec.inviteTokenSecretRef names Secret %q, which exists and is not controlled by this DelegatedGrant: the token Secret is only ever created, never written into an existing Secret; name a new Secret. Nothing was sent", ref.Name), false))
}

// grantID is the id this object owns: the one it adopts (spec.grantID), else the one it
// created (recorded in metadata, which survives a status loss).
func grantID(obj *accessv1alpha1.DelegatedGrant) string {
	if obj.Spec.GrantID != "" {
		return obj.Spec.GrantID
	}
	if id := reconciler.CreatedID(obj); id != "" {
		return id
	}
	return obj.Status.GrantID
}

// find returns the account's grants and this object's grant (nil when it has none), listing
// afresh when the shared copy lacks a recorded id (the copy may predate our own write).
func (e *External) find(ctx context.Context, obj *accessv1alpha1.DelegatedGrant, fresh bool) ([]hostup.Grant, *hostup.Grant, error) {
	if fresh {
		e.Conn.InvalidateGrants()
	}
	grants, _, err := e.Conn.Grants(ctx, e.Interval, e.Now())
	if err != nil {
		return nil, nil, err
	}
	id := grantID(obj)
	for i := range grants {
		if id != "" && grants[i].ID == id {
			return grants, &grants[i], nil
		}
	}
	if id != "" && !fresh {
		return e.find(ctx, obj, true)
	}
	return grants, nil, nil
}

func (e *External) state(g *hostup.Grant) accessv1alpha1.GrantState {
	return plan.GrantState(plan.GrantTimes{Status: g.Status, InviteExpiresAt: g.InviteExpiresAt, InviteAcceptedAt: g.InviteAcceptedAt, RevokedAt: g.RevokedAt}, e.Now())
}

// Observe reports the grant's lifecycle into status and what the loop should do next.
func (e *External) Observe(ctx context.Context, obj *accessv1alpha1.DelegatedGrant) (reconciler.Observation, error) {
	invite := reconciler.Observation{CreatePlan: fmt.Sprintf("invite %s (label %q)", obj.Spec.Email, obj.Spec.Label)}
	adopted := obj.Spec.GrantID
	if created := reconciler.CreatedID(obj); adopted != "" && created != "" && created != adopted {
		o := reconciler.Stalled(accessv1alpha1.ReasonGrantMismatch, fmt.Sprintf(
			"spec.grantID %s differs from grant %s, which this object invited (annotation %s): one object declares one grant; create a new DelegatedGrant to adopt %s",
			adopted, created, accessv1alpha1.AnnotationCreatedID, adopted), false)
		return reconciler.Observation{Exists: true, Result: &o}, nil
	}
	_, g, err := e.find(ctx, obj, false)
	if err != nil {
		return reconciler.Observation{}, err
	}
	if g == nil && adopted != "" {
		o := reconciler.Stalled(accessv1alpha1.ReasonGrantNotFound, fmt.Sprintf(
			"spec.grantID %s is not a grant of this HostUp account (see the ProviderConfig's status.undeclaredGrants or `kubectl contactsync import grants`); nothing was invited: an object that adopts a grant never invites",
			adopted), true)
		obj.Status.State = ""
		return reconciler.Observation{Exists: true, Result: &o}, nil
	}
	if g != nil && adopted != "" && !sentTo(g, obj.Spec.Email) {
		o := reconciler.Stalled(accessv1alpha1.ReasonGrantMismatch, fmt.Sprintf(
			"grant %s was sent to %s, not to spec.email %s: fix spec.email (delete and re-create this object) or name the right grant; nothing was written",
			g.ID, g.InviteEmail, obj.Spec.Email), true)
		return reconciler.Observation{Exists: true, Result: &o}, nil
	}
	if g == nil {
		if id := grantID(obj); id != "" {
			o := reconciler.Stalled(accessv1alpha1.ReasonGrantDisappeared, fmt.Sprintf(
				"grant %s is no longer listed by HostUp (revoked or removed in the dashboard); it is not re-invited behind a person's back: to invite %s again, delete this DelegatedGrant and create it anew",
				id, obj.Spec.Email), true)
			obj.Status.State = accessv1alpha1.GrantRevoked
			return reconciler.Observation{Exists: true, Result: &o}, nil
		}
		obj.Status.State = ""
		return invite, nil
	}
	state := e.state(g)
	st := &obj.Status
	st.GrantID = g.ID
	st.State = state
	st.InviteExpiresAt = metaTime(g.InviteExpiresAt)
	st.AcceptedAt = metaTime(g.InviteAcceptedAt)
	st.Grantee = nil
	if g.GranteeClientID != "" || g.GranteeEmail != "" {
		st.Grantee = &accessv1alpha1.Grantee{ClientID: g.GranteeClientID, Name: g.GranteeName, Email: g.GranteeEmail, Company: g.GranteeCompany}
	}
	st.Permissions = nil
	var out reconciler.Outcome
	switch state {
	case accessv1alpha1.GrantActive:
		p, err := e.Conn.HostUp.GetGrantPermissions(ctx, g.ID)
		if err != nil {
			return reconciler.Observation{}, err
		}
		observed, names, _ := hostupcontact.Observed(&p.Permissions)
		st.Permissions = hostupcontact.ObservedStatus(observed, names)
		if p.CanRequestEpp {
			st.Permissions.Rights = append(st.Permissions.Rights, "canRequestEpp")
		}
		out = reconciler.Ready(accessv1alpha1.ReasonAvailable, fmt.Sprintf("grant %s is active: %s accepted the invitation", g.ID, obj.Spec.Email))
	case accessv1alpha1.GrantPending:
		out = reconciler.Ready(accessv1alpha1.ReasonInvitePending, fmt.Sprintf("grant %s: the invitation to %s is waiting to be accepted%s", g.ID, obj.Spec.Email, expiresText(g.InviteExpiresAt)))
	case accessv1alpha1.GrantExpired:
		if obj.Spec.ReinviteOnExpiry && adopted == "" {
			invite.CreatePlan = fmt.Sprintf("re-invite %s: invitation %s expired unaccepted", obj.Spec.Email, g.ID)
			return invite, nil
		}
		msg := fmt.Sprintf("the invitation %s to %s expired unaccepted: set spec.reinviteOnExpiry to send a new one, or delete this object", g.ID, obj.Spec.Email)
		if adopted != "" {
			msg = fmt.Sprintf("the adopted invitation %s to %s expired unaccepted; an object that adopts a grant (spec.grantID) never invites: to invite again, create a DelegatedGrant without spec.grantID", g.ID, obj.Spec.Email)
		}
		out = reconciler.Stalled(accessv1alpha1.ReasonInviteExpired, msg, true)
		return reconciler.Observation{Exists: true, Result: &out}, nil
	case accessv1alpha1.GrantRevoked:
		out = reconciler.Stalled(accessv1alpha1.ReasonGrantRevoked, fmt.Sprintf(
			"grant %s was revoked in HostUp; it is not re-created behind a person's back: to invite %s again, delete this DelegatedGrant and create it anew",
			g.ID, obj.Spec.Email), true)
		return reconciler.Observation{Exists: true, Result: &out}, nil
	}
	return reconciler.Observation{Exists: true, UpToDate: &out}, nil
}

// FindCreated finds the grant an interrupted invite made: same e-mail, created no earlier than
// a minute before the recorded intent, and not the grant the object already had (a re-invite).
func (e *External) FindCreated(ctx context.Context, obj *accessv1alpha1.DelegatedGrant, since time.Time) (string, error) {
	grants, _, err := e.find(ctx, obj, true)
	if err != nil {
		return "", err
	}
	if g := Interrupted(grants, obj, since); g != nil {
		return g.ID, nil
	}
	return "", nil
}

// Interrupted is the grant an interrupted invite of obj created, or nil.
func Interrupted(grants []hostup.Grant, obj *accessv1alpha1.DelegatedGrant, since time.Time) *hostup.Grant {
	for i := range grants {
		g := &grants[i]
		if g.ID != reconciler.CreatedID(obj) && strings.EqualFold(g.InviteEmail, obj.Spec.Email) && !g.CreatedAt.Before(since.Add(-time.Minute)) {
			return g
		}
	}
	return nil
}

// Create sends an invitation; the answer is added to the shared copy of the account's grants
// rather than listing the whole account again. A requested token Secret is written after the
// id is recorded.
func (e *External) Create(ctx context.Context, obj *accessv1alpha1.DelegatedGrant) (reconciler.Created, error) {
	if obj.Spec.GrantID != "" {
		// Observe never asks for a create when spec.grantID is set; this is the last guard.
		return reconciler.Created{}, reconciler.NotSentError(fmt.Errorf("spec.grantID %s adopts an existing grant: no invitation is ever sent for this object", obj.Spec.GrantID))
	}
	reason := EventInvited
	if reconciler.CreatedID(obj) != "" {
		reason = EventReinvited
	}
	inv, err := e.Conn.HostUp.CreateGrant(ctx, obj.Spec.Email, obj.Spec.Label)
	if err != nil {
		// Whatever happened, the next pass lists the grants afresh.
		e.Conn.InvalidateGrants()
		return reconciler.Created{}, err
	}
	expires := inv.InviteExpiresAt
	e.Conn.AddGrant(hostup.Grant{ID: inv.ID, InviteEmail: obj.Spec.Email, Label: obj.Spec.Label, CreatedAt: inv.CreatedAt, UpdatedAt: inv.CreatedAt, InviteExpiresAt: &expires})
	c := reconciler.Created{ID: inv.ID, Reason: reason, Message: fmt.Sprintf("Invited %s (grant %s)", obj.Spec.Email, inv.ID)}
	if ref := obj.Spec.InviteTokenSecretRef; ref != nil {
		token := inv.InviteToken
		c.ThenReason = EventInviteTokenNotStored
		c.Then = func(ctx context.Context) error {
			if err := e.writeToken(ctx, obj, ref.Name, token); err != nil {
				return fmt.Errorf("cannot write the invite token to Secret %q: %w", ref.Name, err)
			}
			return nil
		}
	}
	return c, nil
}

// writeToken stores the invite token in a Secret of the object's namespace, created by and
// owned by the object. The token is a credential: it goes nowhere else. A Secret that exists
// and is not controlled by this object is never touched (it could be any credential of the
// namespace).
func (e *External) writeToken(ctx context.Context, obj *accessv1alpha1.DelegatedGrant, name, token string) error {
	s := &corev1.Secret{}
	err := e.Kube.Get(ctx, types.NamespacedName{Namespace: obj.Namespace, Name: name}, s)
	switch {
	case apierrors.IsNotFound(err):
		// Labelled so this controller's cache (opt-in Secrets only) sees it on a re-invite.
		s = &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: obj.Namespace, Name: name,
			Labels: map[string]string{accessv1alpha1.LabelCredentials: "true"}}, Type: corev1.SecretTypeOpaque,
			Data: map[string][]byte{InviteTokenKey: []byte(token)}}
		if err := controllerutil.SetControllerReference(obj, s, e.Scheme); err != nil {
			return err
		}
		return e.Kube.Create(ctx, s)
	case err != nil:
		return err
	}
	if !metav1.IsControlledBy(s, obj) {
		return fmt.Errorf("Secret %q exists and is not controlled by this DelegatedGrant; name a new Secret in spec.inviteTokenSecretRef", name) //nolint:staticcheck // names a kind
	}
	before := s.DeepCopy()
	s.Data[InviteTokenKey] = []byte(token)
	return e.Kube.Patch(ctx, s, client.MergeFrom(before))
}

// Update is never called: a grant has no spec to converge beyond its existence.
func (e *External) Update(context.Context, *accessv1alpha1.DelegatedGrant, reconciler.Observation) error {
	return nil
}

// Delete (Revoke) never pretends: HostUp documents no revoke call, so unless the ProviderConfig
// enables the DELETE endpoint the object stays, saying which grant a person must revoke in the
// dashboard, until a poll sees the grant revoked or expired.
func (e *External) Delete(ctx context.Context, obj *accessv1alpha1.DelegatedGrant) (reconciler.Deleted, error) {
	since, pending := reconciler.CreatePending(obj)
	if grantID(obj) == "" && !pending {
		return reconciler.Deleted{Done: true}, nil // never invited
	}
	grants, g, err := e.find(ctx, obj, true)
	if err != nil {
		return reconciler.Deleted{}, err
	}
	if g == nil && pending {
		// An interrupted invite: find what it created.
		g = Interrupted(grants, obj, since)
	}
	if g == nil {
		return reconciler.Deleted{Done: true}, nil // gone from the account, or never created
	}
	state := e.state(g)
	obj.Status.State = state
	if state == accessv1alpha1.GrantRevoked || state == accessv1alpha1.GrantExpired {
		return reconciler.Deleted{Done: true, Reason: EventRevoked, Message: fmt.Sprintf("grant %s is %s in HostUp", g.ID, strings.ToLower(string(state)))}, nil
	}
	msg := fmt.Sprintf("deletionPolicy Revoke: HostUp documents no API to revoke a delegated grant, so revoke grant %s (%s) in the HostUp dashboard (Teams, Delegated access); "+
		"this object is removed once a poll sees it revoked. To let it go without revoking, set spec.deletionPolicy to Orphan", g.ID, obj.Spec.Email)
	asked := meta.FindStatusCondition(obj.Status.Conditions, accessv1alpha1.TypeReconciling)
	alreadyAsked := asked != nil && asked.Status == metav1.ConditionTrue && asked.Reason == accessv1alpha1.ReasonDeleting
	switch {
	case e.Conn.RevokeGrant != nil && alreadyAsked:
		msg = fmt.Sprintf("grantRevocation DeleteEndpoint: HostUp accepted the DELETE of grant %s but still lists it as %s, so it is not revoked. "+
			"Revoke it in the HostUp dashboard (Teams, Delegated access); this object is removed once a poll sees it revoked. "+
			"To let it go without revoking, set spec.deletionPolicy to Orphan", g.ID, strings.ToLower(string(state)))
	case e.Conn.RevokeGrant != nil:
		// Enabled explicitly in the ProviderConfig. Success is not taken on trust: the grant
		// must read back revoked (or gone) before the finalizer goes.
		err := e.Conn.RevokeGrant(ctx, g.ID)
		e.Conn.InvalidateGrants()
		if err == nil {
			return reconciler.Deleted{Wait: reconciler.Progressing(accessv1alpha1.ReasonDeleting,
				fmt.Sprintf("asked HostUp to revoke grant %s; waiting to read it back revoked", g.ID), true), RequeueAfter: time.Second}, nil
		}
		msg = fmt.Sprintf("grantRevocation DeleteEndpoint: HostUp refused to revoke grant %s (%v). Revoke it in the HostUp dashboard (Teams, Delegated access); "+
			"this object is removed once a poll sees it revoked. To let it go without revoking, set spec.deletionPolicy to Orphan", g.ID, err)
	}
	return reconciler.Deleted{Wait: reconciler.Stalled(accessv1alpha1.ReasonRevocationRequiresDashboard, msg, true), RequeueAfter: reconciler.Jitter(e.Interval)}, nil
}

// sentTo reports whether grant g was sent to (or accepted by) email, ignoring case.
func sentTo(g *hostup.Grant, email string) bool {
	return strings.EqualFold(g.InviteEmail, email) || (g.InviteEmail == "" && strings.EqualFold(g.GranteeEmail, email))
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
	// Whole seconds, as the API server stores metav1.Time: a sub-second value would differ from
	// the stored one on every poll and cost a status write each time.
	m := metav1.NewTime(t.Truncate(time.Second))
	return &m
}
