package reconciler

import (
	"reflect"

	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	accessv1alpha1 "github.com/contactsync/contactsync/api/v1alpha1"
)

// Per-object metrics for dashboards and alerts (docs/metrics.md), in the spirit of External
// Secrets Operator's externalsecret_status_condition and Crossplane's ready/synced gauges.
var (
	// ConditionGauge is 1 for the status each condition of each object has, and 0 for the
	// other two statuses (True, False, Unknown), so `== 1` selects the current one. The series
	// of an object are deleted with it.
	ConditionGauge = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "contactsync_object_condition",
		Help: "Condition of each contactsync object: 1 for its current status (True, False or Unknown), 0 for the others.",
	}, []string{"kind", "namespace", "name", "condition", "status"})

	// DriftCorrections counts writes that corrected a change made outside contactsync (the
	// DriftCorrected events), by kind and namespace.
	DriftCorrections = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "contactsync_drift_corrections_total",
		Help: "Changes made outside contactsync that it found and corrected (DriftCorrected events), by kind and namespace.",
	}, []string{"kind", "namespace"})

	// InviteExpiry is the expiry time of each pending DelegatedGrant invitation (Unix seconds);
	// there is no series for a grant that is not pending.
	InviteExpiry = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "contactsync_invite_expiry_timestamp_seconds",
		Help: "When the pending invitation of each DelegatedGrant expires (Unix time); only pending invitations have a series.",
	}, []string{"namespace", "name"})
)

func init() { ctrlmetrics.Registry.MustRegister(ConditionGauge, DriftCorrections, InviteExpiry) }

// conditionTypes are the conditions every object carries.
var conditionTypes = []string{accessv1alpha1.TypeReady, accessv1alpha1.TypeSynced, accessv1alpha1.TypeReconciling, accessv1alpha1.TypeStalled}

// KindOf names the kind of a typed object (its Go type), which a typed client leaves out of
// TypeMeta.
func KindOf(obj any) string {
	t := reflect.TypeOf(obj)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Name()
}

// RecordStatus sets the per-object gauges from the status about to be written.
func RecordStatus(obj StatusObject) {
	kind, ns, name := KindOf(obj), obj.GetNamespace(), obj.GetName()
	conds := obj.GetCommonStatus().Conditions
	for _, t := range conditionTypes {
		status := metav1.ConditionUnknown
		for _, c := range conds {
			if c.Type == t {
				status = c.Status
			}
		}
		for _, s := range []metav1.ConditionStatus{metav1.ConditionTrue, metav1.ConditionFalse, metav1.ConditionUnknown} {
			v := 0.0
			if s == status {
				v = 1
			}
			ConditionGauge.WithLabelValues(kind, ns, name, t, string(s)).Set(v)
		}
	}
	if dg, ok := obj.(*accessv1alpha1.DelegatedGrant); ok {
		if dg.Status.State == accessv1alpha1.GrantPending && dg.Status.InviteExpiresAt != nil {
			InviteExpiry.WithLabelValues(ns, name).Set(float64(dg.Status.InviteExpiresAt.Unix()))
		} else {
			InviteExpiry.DeleteLabelValues(ns, name)
		}
	}
}

// ForgetObject deletes the per-object series of a deleted object of kind.
func ForgetObject(kind string, key types.NamespacedName) {
	ConditionGauge.DeletePartialMatch(prometheus.Labels{"kind": kind, "namespace": key.Namespace, "name": key.Name})
	if kind == KindOf(&accessv1alpha1.DelegatedGrant{}) {
		InviteExpiry.DeleteLabelValues(key.Namespace, key.Name)
	}
}
