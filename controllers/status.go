package controllers

import (
	"math/rand/v2"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	accessv1alpha1 "github.com/contactsync/contactsync/api/v1alpha1"
)

// outcome is how one reconcile ended; it sets the four conditions consistently so that
// kstatus, Flux and Argo CD read the object correctly:
//
//	ready:       Ready=True,  Synced=True,  Reconciling=False, Stalled=False  -> Current
//	progressing: Ready=False, Reconciling=True, Stalled=False                 -> InProgress
//	retrying:    Ready kept,  Synced=False, Reconciling=True, Stalled=False   -> InProgress
//	stalled:     Ready=False, Reconciling=False, Stalled=True                 -> Failed
//	observed:    Ready=True (reason ObserveOnly), Synced=True, ...            -> Current
//	             managementPolicy Observe with a pending plan: the object's job is to observe
//	             and plan, and it did; a Ready=False would hold GitOps health checks forever.
type outcome struct {
	kind    outcomeKind
	reason  string
	message string
	// synced says whether this reconcile reached the provider without error.
	synced bool
}

type outcomeKind int

const (
	outcomeReady outcomeKind = iota
	outcomeProgressing
	outcomeRetrying
	outcomeStalled
	outcomeObserved
)

func ready(reason, msg string) outcome { return outcome{outcomeReady, reason, msg, true} }
func progressing(reason, msg string, synced bool) outcome {
	return outcome{outcomeProgressing, reason, msg, synced}
}
func retrying(reason, msg string) outcome { return outcome{outcomeRetrying, reason, msg, false} }
func observed(msg string) outcome {
	return outcome{outcomeObserved, accessv1alpha1.ReasonObserveOnly, msg, true}
}
func stalled(reason, msg string, synced bool) outcome {
	return outcome{outcomeStalled, reason, msg, synced}
}

// apply writes the outcome into conds, stamped with generation.
func (o outcome) apply(conds *[]metav1.Condition, generation int64) {
	set := func(t string, s metav1.ConditionStatus, reason, msg string) {
		meta.SetStatusCondition(conds, metav1.Condition{Type: t, Status: s, Reason: reason, Message: msg, ObservedGeneration: generation})
	}
	if o.synced {
		set(accessv1alpha1.TypeSynced, metav1.ConditionTrue, accessv1alpha1.ReasonReconcileSuccess, "The provider API was reached.")
	} else {
		set(accessv1alpha1.TypeSynced, metav1.ConditionFalse, o.reason, o.message)
	}
	switch o.kind {
	case outcomeReady:
		set(accessv1alpha1.TypeReady, metav1.ConditionTrue, o.reason, o.message)
		set(accessv1alpha1.TypeReconciling, metav1.ConditionFalse, o.reason, "")
		set(accessv1alpha1.TypeStalled, metav1.ConditionFalse, o.reason, "")
	case outcomeProgressing:
		set(accessv1alpha1.TypeReady, metav1.ConditionFalse, o.reason, o.message)
		set(accessv1alpha1.TypeReconciling, metav1.ConditionTrue, o.reason, o.message)
		set(accessv1alpha1.TypeStalled, metav1.ConditionFalse, o.reason, "")
	case outcomeRetrying:
		if meta.FindStatusCondition(*conds, accessv1alpha1.TypeReady) == nil {
			set(accessv1alpha1.TypeReady, metav1.ConditionFalse, o.reason, o.message)
		} else {
			// Keep Ready's status and reason, restamp it for this generation.
			c := meta.FindStatusCondition(*conds, accessv1alpha1.TypeReady)
			c.ObservedGeneration = generation
		}
		set(accessv1alpha1.TypeReconciling, metav1.ConditionTrue, o.reason, o.message)
		set(accessv1alpha1.TypeStalled, metav1.ConditionFalse, o.reason, "")
	case outcomeObserved:
		set(accessv1alpha1.TypeReady, metav1.ConditionTrue, o.reason, o.message)
		set(accessv1alpha1.TypeReconciling, metav1.ConditionFalse, o.reason, "")
		set(accessv1alpha1.TypeStalled, metav1.ConditionFalse, o.reason, "")
	case outcomeStalled:
		set(accessv1alpha1.TypeReady, metav1.ConditionFalse, o.reason, o.message)
		set(accessv1alpha1.TypeReconciling, metav1.ConditionFalse, o.reason, "")
		set(accessv1alpha1.TypeStalled, metav1.ConditionTrue, o.reason, o.message)
	}
}

// isReady reports whether conds say Ready=True for generation.
func isReady(conds []metav1.Condition, generation int64) bool {
	c := meta.FindStatusCondition(conds, accessv1alpha1.TypeReady)
	return c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == generation
}

// jitter spreads polls: d ± 10 %, so that objects created together do not poll together.
func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.9 + 0.2*rand.Float64()))
}
