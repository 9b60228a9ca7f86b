package controllers

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	accessv1alpha1 "github.com/contactsync/contactsync/api/v1alpha1"
	"github.com/contactsync/contactsync/internal/apiclient"
	"github.com/contactsync/contactsync/internal/external/connection"
	"github.com/contactsync/contactsync/internal/external/hostupcontact"
	"github.com/contactsync/contactsync/internal/hostup"
	"github.com/contactsync/contactsync/internal/hostup/hostupfake"
	"github.com/contactsync/contactsync/internal/reconciler"
)

// TestLimiterWaitCancelledBeforeSendingIsNotUnknown runs the ContactAccess loop with the real
// HostUp external and client (no control plane) while the account's limiter is paused by a
// Retry-After: the create's wait ends before anything is sent, so the intent is withdrawn and
// the object is retried, never CreateOutcomeUnknown.
func TestLimiterWaitCancelledBeforeSendingIsNotUnknown(t *testing.T) {
	const key = "limiter-key"
	fakeSrv := hostupfake.New(hostupfake.WithAPIKey(key))
	srv := httptest.NewServer(fakeSrv)
	defer srv.Close()
	lim := apiclient.NewLimiter(0, 1)
	lim.PauseUntil(time.Now().Add(time.Hour)) // as after a 429 with Retry-After: 3600
	api, err := hostup.New(hostup.Config{BaseURL: srv.URL + "/api", APIKey: key, Limiter: lim})
	if err != nil {
		t.Fatal(err)
	}

	scheme := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(scheme)
	_ = accessv1alpha1.AddToScheme(scheme)
	obj := &accessv1alpha1.ContactAccess{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "paced", Generation: 1, Finalizers: []string{accessv1alpha1.Finalizer}},
		Spec: accessv1alpha1.ContactAccessSpec{
			ProviderConfigRef: accessv1alpha1.ProviderConfigReference{Name: "hostup"},
			HostUp: &accessv1alpha1.HostUpContactAccess{Contact: accessv1alpha1.HostUpContact{Create: &accessv1alpha1.HostUpNewContact{
				FirstName: "Pa", LastName: "Ced", Email: "paced@example.com",
				PasswordSecretRef: accessv1alpha1.SecretKeySelector{Name: "pw", Key: "password"},
			}}},
		},
	}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "pw",
		Labels: map[string]string{accessv1alpha1.LabelCredentials: "true"}}, Data: map[string][]byte{"password": []byte("Paced-pw-123")}}
	kube := fake.NewClientBuilder().WithScheme(scheme).WithObjects(obj, secret).WithStatusSubresource(&accessv1alpha1.ContactAccess{}).Build()
	r := &reconciler.Reconciler[*accessv1alpha1.ContactAccess]{
		Kube: kube, APIReader: kube, Recorder: events.NewFakeRecorder(100),
		New: func() *accessv1alpha1.ContactAccess { return &accessv1alpha1.ContactAccess{} },
		Connector: reconciler.ConnectorFunc[*accessv1alpha1.ContactAccess](func(context.Context, *accessv1alpha1.ContactAccess) (reconciler.External[*accessv1alpha1.ContactAccess], time.Duration, error) {
			return &hostupcontact.External{API: api, Secrets: connection.SecretReader{Cached: kube}}, 10 * time.Second, nil
		}),
		CreateTimeout: 100 * time.Millisecond,
	}
	res, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: client.ObjectKeyFromObject(obj)})
	if err != nil {
		t.Fatal(err)
	}
	got := &accessv1alpha1.ContactAccess{}
	if err := kube.Get(context.Background(), client.ObjectKeyFromObject(obj), got); err != nil {
		t.Fatal(err)
	}
	ready := meta.FindStatusCondition(got.Status.Conditions, accessv1alpha1.TypeReady)
	if ready == nil || ready.Reason == accessv1alpha1.ReasonCreateOutcomeUnknown {
		t.Fatalf("Ready: %+v; a create that never left must not be CreateOutcomeUnknown", ready)
	}
	if meta.IsStatusConditionTrue(got.Status.Conditions, accessv1alpha1.TypeStalled) {
		t.Errorf("the object stalled (%s); it must be retried", ready.Message)
	}
	if _, pending := reconciler.CreatePending(got); pending {
		t.Error("the create intent is still recorded although nothing was sent")
	}
	if n := fakeSrv.Calls("POST /api/teams"); n != 0 {
		t.Errorf("POST /api/teams reached the fake %d times, want 0", n)
	}
	if res.RequeueAfter <= 0 {
		t.Errorf("no requeue: %+v", res)
	}
}
