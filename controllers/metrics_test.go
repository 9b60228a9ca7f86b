package controllers

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	accessv1alpha1 "github.com/contactsync/contactsync/api/v1alpha1"
)

// TestStatusCollector: the per-object gauges follow the objects of the cache, only on the
// leader, and a deleted object has no series.
func TestStatusCollector(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := accessv1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	expires := metav1.NewTime(time.Unix(1_900_000_000, 0))
	pc := &accessv1alpha1.ProviderConfig{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "hostup"}}
	pc.Status.Conditions = []metav1.Condition{
		{Type: "Ready", Status: "True"}, {Type: "Synced", Status: "True"}, {Type: "Reconciling", Status: "False"}, {Type: "Stalled", Status: "False"}}
	cpc := &accessv1alpha1.ClusterProviderConfig{ObjectMeta: metav1.ObjectMeta{Name: "platform"}}
	cpc.Status.Conditions = []metav1.Condition{{Type: "Ready", Status: "False"}, {Type: "Stalled", Status: "True"}}
	ca := &accessv1alpha1.ContactAccess{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "new"}} // not reconciled yet
	dg := &accessv1alpha1.DelegatedGrant{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "partner"}}
	dg.Status.State, dg.Status.InviteExpiresAt = accessv1alpha1.GrantPending, &expires
	dg.Status.Conditions = []metav1.Condition{{Type: "Ready", Status: "True"}, {Type: "Stalled", Status: "False"}}
	kube := fake.NewClientBuilder().WithScheme(scheme).WithObjects(pc, cpc, ca, dg).WithStatusSubresource(pc, cpc, ca, dg).Build()
	if err := kube.Status().Update(context.Background(), pc); err != nil {
		t.Fatal(err)
	}
	if err := kube.Status().Update(context.Background(), cpc); err != nil {
		t.Fatal(err)
	}
	if err := kube.Status().Update(context.Background(), dg); err != nil {
		t.Fatal(err)
	}

	c := &StatusCollector{}
	if n := testutil.CollectAndCount(c); n != 0 {
		t.Errorf("%d series before Setup", n)
	}
	waiting := make(chan struct{})
	c.reader, c.elected = kube, waiting
	if n := testutil.CollectAndCount(c); n != 0 {
		t.Errorf("%d series on a replica that is not the leader", n)
	}
	elected := make(chan struct{})
	close(elected)
	c.elected = elected
	want := `
# HELP contactsync_invite_expiry_timestamp_seconds When the pending invitation of each DelegatedGrant expires (Unix time); only pending invitations have a series.
# TYPE contactsync_invite_expiry_timestamp_seconds gauge
contactsync_invite_expiry_timestamp_seconds{name="partner",namespace="ns"} 1.9e+09
# HELP contactsync_object_condition Conditions of each contactsync object: one series per condition, labelled with its current status (True, False, or Unknown when not set yet), value 1.
# TYPE contactsync_object_condition gauge
contactsync_object_condition{condition="Ready",kind="ClusterProviderConfig",name="platform",namespace="",status="False"} 1
contactsync_object_condition{condition="Reconciling",kind="ClusterProviderConfig",name="platform",namespace="",status="Unknown"} 1
contactsync_object_condition{condition="Stalled",kind="ClusterProviderConfig",name="platform",namespace="",status="True"} 1
contactsync_object_condition{condition="Synced",kind="ClusterProviderConfig",name="platform",namespace="",status="Unknown"} 1
contactsync_object_condition{condition="Ready",kind="ContactAccess",name="new",namespace="ns",status="Unknown"} 1
contactsync_object_condition{condition="Reconciling",kind="ContactAccess",name="new",namespace="ns",status="Unknown"} 1
contactsync_object_condition{condition="Stalled",kind="ContactAccess",name="new",namespace="ns",status="Unknown"} 1
contactsync_object_condition{condition="Synced",kind="ContactAccess",name="new",namespace="ns",status="Unknown"} 1
contactsync_object_condition{condition="Ready",kind="DelegatedGrant",name="partner",namespace="ns",status="True"} 1
contactsync_object_condition{condition="Reconciling",kind="DelegatedGrant",name="partner",namespace="ns",status="Unknown"} 1
contactsync_object_condition{condition="Stalled",kind="DelegatedGrant",name="partner",namespace="ns",status="False"} 1
contactsync_object_condition{condition="Synced",kind="DelegatedGrant",name="partner",namespace="ns",status="Unknown"} 1
contactsync_object_condition{condition="Ready",kind="ProviderConfig",name="hostup",namespace="ns",status="True"} 1
contactsync_object_condition{condition="Reconciling",kind="ProviderConfig",name="hostup",namespace="ns",status="False"} 1
contactsync_object_condition{condition="Stalled",kind="ProviderConfig",name="hostup",namespace="ns",status="False"} 1
contactsync_object_condition{condition="Synced",kind="ProviderConfig",name="hostup",namespace="ns",status="True"} 1
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Error(err)
	}
	if err := kube.Delete(context.Background(), dg); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(c, "contactsync_invite_expiry_timestamp_seconds"); n != 0 {
		t.Errorf("%d invite series after the grant was deleted", n)
	}
	if n := testutil.CollectAndCount(c, "contactsync_object_condition"); n != 12 {
		t.Errorf("%d condition series after the grant was deleted, want 12", n)
	}
}
