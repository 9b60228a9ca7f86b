package reconciler

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	accessv1alpha1 "github.com/contactsync/contactsync/api/v1alpha1"
)

func TestConditionAndInviteGauges(t *testing.T) {
	expires := metav1.NewTime(time.Unix(1_900_000_000, 0))
	dg := &accessv1alpha1.DelegatedGrant{ObjectMeta: metav1.ObjectMeta{Namespace: "metrics-ns", Name: "g"}}
	dg.Status.State, dg.Status.InviteExpiresAt = accessv1alpha1.GrantPending, &expires
	dg.Status.Conditions = []metav1.Condition{
		{Type: accessv1alpha1.TypeReady, Status: metav1.ConditionTrue},
		{Type: accessv1alpha1.TypeStalled, Status: metav1.ConditionFalse},
	}
	RecordStatus(dg)
	cases := map[[2]string]float64{
		{"Ready", "True"}: 1, {"Ready", "False"}: 0, {"Ready", "Unknown"}: 0,
		{"Stalled", "False"}: 1, {"Stalled", "True"}: 0,
		{"Synced", "Unknown"}: 1, {"Reconciling", "Unknown"}: 1, {"Reconciling", "True"}: 0,
	}
	for k, want := range cases {
		if got := testutil.ToFloat64(ConditionGauge.WithLabelValues("DelegatedGrant", "metrics-ns", "g", k[0], k[1])); got != want {
			t.Errorf("condition %s=%s: gauge %v, want %v", k[0], k[1], got, want)
		}
	}
	if got := testutil.ToFloat64(InviteExpiry.WithLabelValues("metrics-ns", "g")); got != 1_900_000_000 {
		t.Errorf("invite expiry %v", got)
	}

	// Accepted: no expiry series any more; the condition flips.
	dg.Status.State, dg.Status.Conditions[0].Status = accessv1alpha1.GrantActive, metav1.ConditionFalse
	RecordStatus(dg)
	if n := testutil.CollectAndCount(InviteExpiry, "contactsync_invite_expiry_timestamp_seconds"); n != 0 {
		t.Errorf("%d invite expiry series for an accepted grant", n)
	}
	if got := testutil.ToFloat64(ConditionGauge.WithLabelValues("DelegatedGrant", "metrics-ns", "g", "Ready", "False")); got != 1 {
		t.Errorf("Ready=False gauge %v", got)
	}

	// Another kind with the same name keeps its series when the grant goes.
	ca := &accessv1alpha1.ContactAccess{ObjectMeta: metav1.ObjectMeta{Namespace: "metrics-ns", Name: "g"}}
	RecordStatus(ca)
	ForgetObject(KindOf(dg), types.NamespacedName{Namespace: "metrics-ns", Name: "g"})
	if n := testutil.CollectAndCount(ConditionGauge, "contactsync_object_condition"); n != 12 {
		t.Errorf("%d condition series after the grant was deleted, want the ContactAccess's 12", n)
	}
	ForgetObject("ContactAccess", types.NamespacedName{Namespace: "metrics-ns", Name: "g"})
	if n := testutil.CollectAndCount(ConditionGauge, "contactsync_object_condition"); n != 0 {
		t.Errorf("%d condition series left", n)
	}
}
