package controllers

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	accessv1alpha1 "github.com/contactsync/contactsync/api/v1alpha1"
	"github.com/contactsync/contactsync/internal/external/connection"
)

// usageEnv is a configUsageReconciler on a fake API server (no control plane).
func usageEnv(t *testing.T, cluster bool, objs ...client.Object) (*configUsageReconciler, client.Client, *events.FakeRecorder) {
	t.Helper()
	s := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(s)
	_ = accessv1alpha1.AddToScheme(s)
	kube := fake.NewClientBuilder().WithScheme(s).WithObjects(objs...).
		WithStatusSubresource(&accessv1alpha1.ProviderConfig{}, &accessv1alpha1.ClusterProviderConfig{}).
		WithIndex(&accessv1alpha1.ContactAccess{}, indexProviderConfig, indexRef(false)).
		WithIndex(&accessv1alpha1.ContactAccess{}, indexClusterProviderConfig, indexRef(true)).
		WithIndex(&accessv1alpha1.DelegatedGrant{}, indexProviderConfig, indexRef(false)).
		WithIndex(&accessv1alpha1.DelegatedGrant{}, indexClusterProviderConfig, indexRef(true)).
		Build()
	rec := events.NewFakeRecorder(10)
	return &configUsageReconciler{kube: kube, pool: &connection.Pool{}, recorder: rec, cluster: cluster}, kube, rec
}

func userCA(ns, name string, ref accessv1alpha1.ProviderConfigReference) *accessv1alpha1.ContactAccess {
	return &accessv1alpha1.ContactAccess{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: accessv1alpha1.ContactAccessSpec{ProviderConfigRef: ref}}
}

func userDG(ns, name string, ref accessv1alpha1.ProviderConfigReference) *accessv1alpha1.DelegatedGrant {
	return &accessv1alpha1.DelegatedGrant{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: accessv1alpha1.DelegatedGrantSpec{ProviderConfigRef: ref}}
}

func TestConfigUsage(t *testing.T) {
	local := accessv1alpha1.ProviderConfigReference{Name: "shared-name"}
	cluster := accessv1alpha1.ProviderConfigReference{Kind: accessv1alpha1.KindClusterProviderConfig, Name: "shared-name"}
	deleting := func(o client.Object) client.Object {
		o.SetDeletionTimestamp(&metav1.Time{Time: metav1.Now().Rfc3339Copy().Time})
		o.SetFinalizers([]string{accessv1alpha1.FinalizerInUse})
		o.SetGeneration(2)
		return o
	}
	pc := func() client.Object {
		return &accessv1alpha1.ProviderConfig{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "shared-name", Generation: 1}}
	}
	cpc := func() client.Object {
		return &accessv1alpha1.ClusterProviderConfig{ObjectMeta: metav1.ObjectMeta{Name: "shared-name", Generation: 1}}
	}
	// Users of both kinds of the same name, in several namespaces: each config counts only its own.
	users := []client.Object{
		userCA("a", "anna", local), userDG("a", "partner", local), userCA("b", "same-ns-name-elsewhere", local),
		userCA("a", "via-cluster", cluster), userDG("c", "via-cluster", cluster),
	}
	for i := range 12 {
		users = append(users, userCA("d", fmt.Sprintf("many-%02d", i), cluster))
	}
	cases := map[string]struct {
		cluster    bool
		config     client.Object
		users      []client.Object
		wantGone   bool
		wantFinal  bool
		wantUsers  int32
		wantUsedBy []string
		wantInUse  string // substring of the Reconciling InUse message; "" means no InUse condition
		wantEvent  bool
	}{
		"a ProviderConfig in use gets the finalizer and its users, and no other namespace's": {
			config: pc(), users: users, wantFinal: true, wantUsers: 2,
			wantUsedBy: []string{"ContactAccess a/anna", "DelegatedGrant a/partner"},
		},
		"an unused ProviderConfig is protected too (an object may come)": {
			config: pc(), wantFinal: true,
		},
		"a ProviderConfig being deleted waits for its users and says why": {
			config: deleting(pc()), users: users, wantFinal: true, wantUsers: 2,
			wantUsedBy: []string{"ContactAccess a/anna", "DelegatedGrant a/partner"},
			wantInUse:  "deletion waits until the 2 object(s) using this ProviderConfig are gone: ContactAccess a/anna, DelegatedGrant a/partner.", wantEvent: true,
		},
		"a ProviderConfig being deleted without users goes": {
			config: deleting(pc()), users: users[3:], wantGone: true,
		},
		"a ClusterProviderConfig counts users of every namespace, at most 10 named": {
			cluster: true, config: cpc(), users: users, wantFinal: true, wantUsers: 14,
			wantUsedBy: []string{"ContactAccess a/via-cluster", "ContactAccess d/many-00", "ContactAccess d/many-01", "ContactAccess d/many-02",
				"ContactAccess d/many-03", "ContactAccess d/many-04", "ContactAccess d/many-05", "ContactAccess d/many-06", "ContactAccess d/many-07", "ContactAccess d/many-08"},
		},
		"a ClusterProviderConfig being deleted names 3 users and counts the rest": {
			cluster: true, config: deleting(cpc()), users: users, wantFinal: true, wantUsers: 14, wantEvent: true,
			wantInUse: "14 object(s) using this ClusterProviderConfig are gone: ContactAccess a/via-cluster, ContactAccess d/many-00, ContactAccess d/many-01 and 11 more (status.usedBy)",
		},
		"a ClusterProviderConfig being deleted without users goes": {
			cluster: true, config: deleting(cpc()), users: users[:3], wantGone: true,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r, kube, rec := usageEnv(t, tc.cluster, append([]client.Object{tc.config}, tc.users...)...)
			key := client.ObjectKeyFromObject(tc.config)
			for range 2 { // a second pass changes nothing and sends no second event
				if _, err := r.Reconcile(context.Background(), reconcile.Request{NamespacedName: key}); err != nil {
					t.Fatal(err)
				}
			}
			got := newConfig(tc.cluster)
			err := kube.Get(context.Background(), key, got)
			if tc.wantGone {
				if !apierrors.IsNotFound(err) {
					t.Fatalf("want the config gone, got %v (finalizers %v)", err, got.GetFinalizers())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			c := connection.ConfigOf(got, "")
			if has := len(got.GetFinalizers()) == 1 && got.GetFinalizers()[0] == accessv1alpha1.FinalizerInUse; has != tc.wantFinal {
				t.Errorf("finalizers %v, want in-use: %v", got.GetFinalizers(), tc.wantFinal)
			}
			if c.Status.Users != tc.wantUsers {
				t.Errorf("status.users = %d, want %d", c.Status.Users, tc.wantUsers)
			}
			if tc.wantUsedBy != nil {
				if diff := cmp.Diff(tc.wantUsedBy, c.Status.UsedBy); diff != "" {
					t.Errorf("status.usedBy (-want +got):\n%s", diff)
				}
			}
			rc := meta.FindStatusCondition(c.Status.Conditions, accessv1alpha1.TypeReconciling)
			switch {
			case tc.wantInUse == "" && rc != nil:
				t.Errorf("unexpected condition %+v", rc)
			case tc.wantInUse != "" && (rc == nil || rc.Status != metav1.ConditionTrue || rc.Reason != accessv1alpha1.ReasonInUse || !strings.Contains(rc.Message, tc.wantInUse)):
				t.Errorf("Reconciling = %+v, want InUse saying %q", rc, tc.wantInUse)
			case tc.wantInUse != "" && c.Status.ObservedGeneration != got.GetGeneration():
				t.Errorf("observedGeneration %d, want %d", c.Status.ObservedGeneration, got.GetGeneration())
			}
			if n := len(rec.Events); (n == 1) != tc.wantEvent || n > 1 {
				t.Errorf("%d events, want one: %v", n, tc.wantEvent)
			}
		})
	}
}

func TestConfigUsageIgnoresAConfigNeverProtected(t *testing.T) {
	// The fake (like the API server) only keeps a deleted object while it has a finalizer; one
	// that is not ours must not make the usage reconciler add or remove anything.
	pc := &accessv1alpha1.ProviderConfig{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "x", Finalizers: []string{"example.com/other"}}}
	r, kube, _ := usageEnv(t, false, pc, userCA("a", "anna", accessv1alpha1.ProviderConfigReference{Name: "x"}))
	if err := kube.Delete(context.Background(), pc); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Reconcile(context.Background(), reconcile.Request{NamespacedName: types.NamespacedName{Namespace: "a", Name: "x"}}); err != nil {
		t.Fatal(err)
	}
	got := &accessv1alpha1.ProviderConfig{}
	if err := kube.Get(context.Background(), client.ObjectKeyFromObject(pc), got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"example.com/other"}, got.Finalizers); diff != "" {
		t.Errorf("finalizers changed (-want +got):\n%s", diff)
	}
}
