// Package reconciler is the managed reconcile loop every kind of contactsync runs: get →
// deletion policy or finalizer → connect → observe → create behind the intent annotation →
// plan gate (Enforce/Observe) → update → verify by a second read → status written once →
// requeue. It is in the spirit of crossplane-runtime's managed reconciler, small and ours.
// Each kind supplies an External (Observe/Create/Update/Delete) beside its provider.
package reconciler

import (
	"errors"
	"math/rand/v2"
	"net/http"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	accessv1alpha1 "github.com/contactsync/contactsync/api/v1alpha1"
	"github.com/contactsync/contactsync/internal/apiclient"
	"github.com/contactsync/contactsync/internal/hostup"
	"github.com/contactsync/contactsync/internal/onlyoffice"
)

// Outcome is how one reconcile ended; Apply sets the four conditions consistently so that
// kstatus, Flux and Argo CD read the object correctly:
//
//	Ready:       Ready=True,  Synced=True,  Reconciling=False, Stalled=False  -> Current
//	Progressing: Ready=False, Reconciling=True, Stalled=False                 -> InProgress
//	Retrying:    Ready kept,  Synced=False, Reconciling=True, Stalled=False   -> InProgress
//	Stalled:     Ready=False, Reconciling=False, Stalled=True                 -> Failed
//	Observed:    Ready=True (reason ObserveOnly), Synced=True, ...            -> Current
//	             managementPolicy Observe with a pending plan: the object's job is to observe
//	             and plan, and it did; a Ready=False would hold GitOps health checks forever.
type Outcome struct {
	Kind    OutcomeKind
	Reason  string
	Message string
	// Synced says whether this reconcile reached the provider without error.
	Synced bool
}

// OutcomeKind is the class of an Outcome.
type OutcomeKind int

// The outcome kinds.
const (
	KindReady OutcomeKind = iota
	KindProgressing
	KindRetrying
	KindStalled
	KindObserved
)

// Ready: the desired state is in place and verified.
func Ready(reason, msg string) Outcome { return Outcome{KindReady, reason, msg, true} }

// Progressing: work is under way (a create, a deletion, a ProviderConfig not ready yet).
func Progressing(reason, msg string, synced bool) Outcome {
	return Outcome{KindProgressing, reason, msg, synced}
}

// Retrying: a transient error; the object is retried with backoff.
func Retrying(reason, msg string) Outcome { return Outcome{KindRetrying, reason, msg, false} }

// Observed: managementPolicy Observe with a pending plan.
func Observed(msg string) Outcome {
	return Outcome{KindObserved, accessv1alpha1.ReasonObserveOnly, msg, true}
}

// Stalled: a person must act; the object waits for a change instead of hammering the API.
func Stalled(reason, msg string, synced bool) Outcome {
	return Outcome{KindStalled, reason, msg, synced}
}

// Apply writes the outcome into conds, stamped with generation.
func (o Outcome) Apply(conds *[]metav1.Condition, generation int64) {
	set := func(t string, s metav1.ConditionStatus, reason, msg string) {
		meta.SetStatusCondition(conds, metav1.Condition{Type: t, Status: s, Reason: reason, Message: msg, ObservedGeneration: generation})
	}
	if o.Synced {
		set(accessv1alpha1.TypeSynced, metav1.ConditionTrue, accessv1alpha1.ReasonReconcileSuccess, "The provider API was reached.")
	} else {
		set(accessv1alpha1.TypeSynced, metav1.ConditionFalse, o.Reason, o.Message)
	}
	switch o.Kind {
	case KindReady, KindObserved:
		set(accessv1alpha1.TypeReady, metav1.ConditionTrue, o.Reason, o.Message)
		set(accessv1alpha1.TypeReconciling, metav1.ConditionFalse, o.Reason, "")
		set(accessv1alpha1.TypeStalled, metav1.ConditionFalse, o.Reason, "")
	case KindProgressing:
		set(accessv1alpha1.TypeReady, metav1.ConditionFalse, o.Reason, o.Message)
		set(accessv1alpha1.TypeReconciling, metav1.ConditionTrue, o.Reason, o.Message)
		set(accessv1alpha1.TypeStalled, metav1.ConditionFalse, o.Reason, "")
	case KindRetrying:
		if c := meta.FindStatusCondition(*conds, accessv1alpha1.TypeReady); c == nil || c.Status != metav1.ConditionTrue {
			// Not Ready: say why now, so no stale reason from an earlier pass survives.
			set(accessv1alpha1.TypeReady, metav1.ConditionFalse, o.Reason, o.Message)
		} else {
			// Still Ready as last verified: keep it, restamped for this generation.
			c.ObservedGeneration = generation
		}
		set(accessv1alpha1.TypeReconciling, metav1.ConditionTrue, o.Reason, o.Message)
		set(accessv1alpha1.TypeStalled, metav1.ConditionFalse, o.Reason, "")
	case KindStalled:
		set(accessv1alpha1.TypeReady, metav1.ConditionFalse, o.Reason, o.Message)
		set(accessv1alpha1.TypeReconciling, metav1.ConditionFalse, o.Reason, "")
		set(accessv1alpha1.TypeStalled, metav1.ConditionTrue, o.Reason, o.Message)
	}
}

// IsReady reports whether conds say Ready=True for generation.
func IsReady(conds []metav1.Condition, generation int64) bool {
	c := meta.FindStatusCondition(conds, accessv1alpha1.TypeReady)
	return c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == generation
}

// Jitter spreads polls: d ± 10 %, so that objects created together do not poll together.
func Jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.9 + 0.2*rand.Float64()))
}

func randFloat() float64 { return rand.Float64() }

// OutcomeError carries an outcome decided where the error arose (a missing ProviderConfig, a
// Secret without the key): connecting reports every failure this one way.
type OutcomeError struct{ Outcome Outcome }

func (e *OutcomeError) Error() string { return e.Outcome.Message }

// Fail wraps an outcome as an error.
func Fail(o Outcome) error { return &OutcomeError{o} }

// Classify turns any error of a reconcile into an outcome: an OutcomeError's own; credentials
// and permission problems stall (a person must act); everything else is retried with backoff.
func Classify(err error) Outcome {
	var oe *OutcomeError
	switch {
	case errors.As(err, &oe):
		return oe.Outcome
	case onlyoffice.IsLockout(err):
		return Retrying(accessv1alpha1.ReasonRateLimited, err.Error()+": ONLYOFFICE locked the login after repeated failures; retrying when the lock ends")
	case onlyoffice.IsConfig(err):
		return Stalled(accessv1alpha1.ReasonCredentialsRejected, err.Error()+": use a service account without two-factor login", true)
	case hostupForbidden(err), onlyoffice.IsForbidden(err):
		return Stalled(accessv1alpha1.ReasonForbidden, err.Error(), true)
	case hostup.IsAuth(err), onlyoffice.IsAuth(err):
		return Stalled(accessv1alpha1.ReasonCredentialsRejected, err.Error()+": check the credentials in the Secret", true)
	case RetryAfter(err) > 0: // includes a call the limiter kept back (apiclient.WaitError)
		return Retrying(accessv1alpha1.ReasonRateLimited, err.Error())
	}
	return Retrying(accessv1alpha1.ReasonAPIError, err.Error())
}

func hostupForbidden(err error) bool {
	var e *hostup.Error
	return errors.As(err, &e) && e.HTTPStatus == http.StatusForbidden
}

// RetryAfter is how long a provider asked us to wait, zero if it did not.
func RetryAfter(err error) time.Duration {
	d := max(hostup.RetryAfter(err), onlyoffice.RetryAfter(err))
	if we := apiclient.AsWait(err); we != nil {
		// Not sent: the account is paused (an earlier answer said Retry-After) or paced.
		d = max(d, time.Until(we.Until), time.Millisecond)
	}
	return d
}
