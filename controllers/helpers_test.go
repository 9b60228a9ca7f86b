package controllers

import (
	"fmt"
	"net/http/httptest"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	accessv1alpha1 "github.com/contactsync/contactsync/api/v1alpha1"
	"github.com/contactsync/contactsync/internal/hostup/hostupfake"
)

const (
	testAPIKey = "hu-test-key-0123456789abcdef"
	// declaredPoll is the syncInterval the tests' ProviderConfigs declare: the smallest one
	// admission accepts.
	declaredPoll = 5 * time.Second
	// timeDivisor: the test manager runs every poll interval this many times faster than
	// declared (connection.Pool.IntervalDivisor), so per-poll properties are asserted over a few
	// real polls without waiting on wall-clock seconds.
	timeDivisor = 20
	// shortPoll is the poll period the test manager really runs.
	shortPoll    = declaredPoll / timeDivisor
	eventuallyTO = 30 * time.Second
)

// allHostUp remembers every HostUp fake of the suite, to collect the invite tokens issued.
var allHostUp struct {
	sync.Mutex
	fakes []*hostupfake.Server
}

// startHostUp serves a demo HostUp account on loopback for one test.
func startHostUp(opts ...hostupfake.Option) (*hostupfake.Server, string) {
	fake := hostupfake.NewDemo(append([]hostupfake.Option{hostupfake.WithAPIKey(testAPIKey)}, opts...)...)
	allHostUp.Lock()
	allHostUp.fakes = append(allHostUp.fakes, fake)
	allHostUp.Unlock()
	srv := httptest.NewServer(fake)
	DeferCleanup(srv.Close)
	return fake, srv.URL + "/api"
}

func createSecret(ns, name string, data map[string]string) {
	GinkgoHelper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name,
		Labels: map[string]string{accessv1alpha1.LabelCredentials: "true"}}, StringData: data}
	Expect(k8sClient.Create(suiteCtx, s)).To(Succeed())
}

// hostupProviderConfig creates a ProviderConfig (and, when key is not empty, its Secret).
func hostupProviderConfig(ns, name, url, key string) *accessv1alpha1.ProviderConfig {
	GinkgoHelper()
	if key != "" {
		createSecret(ns, name+"-key", map[string]string{"apiKey": key})
	}
	pc := &accessv1alpha1.ProviderConfig{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: accessv1alpha1.ProviderConfigSpec{
			HostUp: &accessv1alpha1.HostUpProvider{
				BaseURL:         url,
				APIKeySecretRef: accessv1alpha1.SecretKeySelector{Name: name + "-key", Key: "apiKey"},
			},
			RateLimit:    &accessv1alpha1.RateLimit{RequestsPerSecond: 100, Burst: 100},
			SyncInterval: &metav1.Duration{Duration: declaredPoll},
		},
	}
	Expect(k8sClient.Create(suiteCtx, pc)).To(Succeed())
	return pc
}

// condition returns the condition t of obj after reading it, or nil.
func condition(obj client.Object, t string) func() *metav1.Condition {
	return func() *metav1.Condition {
		if err := k8sClient.Get(suiteCtx, client.ObjectKeyFromObject(obj), obj); err != nil {
			return nil
		}
		var conds []metav1.Condition
		switch o := obj.(type) {
		case *accessv1alpha1.ProviderConfig:
			conds = o.Status.Conditions
		case *accessv1alpha1.ClusterProviderConfig:
			conds = o.Status.Conditions
		case *accessv1alpha1.ContactAccess:
			conds = o.Status.Conditions
		case *accessv1alpha1.DelegatedGrant:
			conds = o.Status.Conditions
		}
		return meta.FindStatusCondition(conds, t)
	}
}

// haveCond matches a condition with the given status and reason.
func haveCond(st metav1.ConditionStatus, reason string) OmegaMatcher {
	return And(Not(BeNil()), HaveField("Status", st), HaveField("Reason", reason))
}

func waitReady(obj client.Object) {
	GinkgoHelper()
	Eventually(condition(obj, accessv1alpha1.TypeReady)).WithTimeout(eventuallyTO).
		Should(haveCond(metav1.ConditionTrue, readyReason(obj)))
}

func readyReason(obj client.Object) string {
	switch obj.(type) {
	case *accessv1alpha1.ProviderConfig, *accessv1alpha1.ClusterProviderConfig:
		return accessv1alpha1.ReasonCredentialsVerified
	case *accessv1alpha1.DelegatedGrant:
		return accessv1alpha1.ReasonInvitePending // a fresh invitation
	}
	return accessv1alpha1.ReasonAvailable
}

// kstatusOf computes the kstatus of obj as Flux and the cli-utils do.
func kstatusOf(obj client.Object) status.Status {
	GinkgoHelper()
	Expect(k8sClient.Get(suiteCtx, client.ObjectKeyFromObject(obj), obj)).To(Succeed())
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	Expect(err).NotTo(HaveOccurred())
	res, err := status.Compute(&unstructured.Unstructured{Object: m})
	Expect(err).NotTo(HaveOccurred())
	return res.Status
}

// eventReasons lists the reasons of the events regarding obj.
func eventReasons(obj client.Object) []string {
	list := &eventsv1.EventList{}
	if err := k8sClient.List(suiteCtx, list, client.InNamespace(obj.GetNamespace())); err != nil {
		return nil
	}
	var out []string
	for _, e := range list.Items {
		if e.Regarding.Name == obj.GetName() {
			out = append(out, e.Reason)
		}
	}
	return out
}

// eventNotes lists the notes of the events regarding obj.
func eventNotes(obj client.Object) []string {
	list := &eventsv1.EventList{}
	if err := k8sClient.List(suiteCtx, list, client.InNamespace(obj.GetNamespace())); err != nil {
		return nil
	}
	var out []string
	for _, e := range list.Items {
		if e.Regarding.Name == obj.GetName() {
			out = append(out, fmt.Sprintf("%s: %s", e.Reason, e.Note))
		}
	}
	return out
}

// hostupWrites counts the calls that can change a HostUp account.
func hostupWrites(f *hostupfake.Server) int {
	return f.Calls("POST /api/contacts/{id}/permissions") + f.Calls("POST /api/teams") +
		f.Calls("DELETE /api/teams") + f.Calls("POST /api/delegated-access")
}

func itoa(i int64) string { return fmt.Sprint(i) }

// updateSpec reads obj, applies change and writes it back, again on a conflict: the controller
// writes the same object (finalizers, annotations) at any moment, as it does under a user's
// `kubectl edit`, so a read-modify-write must expect to lose a race now and then.
func updateSpec[T client.Object](obj T, change func(T)) {
	GinkgoHelper()
	Expect(retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := k8sClient.Get(suiteCtx, client.ObjectKeyFromObject(obj), obj); err != nil {
			return err
		}
		change(obj)
		return k8sClient.Update(suiteCtx, obj)
	})).To(Succeed())
}

func secretRef(ns, name string) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
}

// resolveUnknownCreates does what a CreateOutcomeUnknown condition asks of a person: look in
// the dashboard (here: the fake) for the contact, then record its id, or withdraw the intent
// when there is none. It returns how many objects needed it.
func resolveUnknownCreates(objs []client.Object, hu *hostupfake.Server) int {
	GinkgoHelper()
	n := 0
	for _, o := range objs {
		ca, ok := o.(*accessv1alpha1.ContactAccess)
		if !ok {
			continue
		}
		s := condition(ca, accessv1alpha1.TypeStalled)()
		if s == nil || s.Status != metav1.ConditionTrue || s.Reason != accessv1alpha1.ReasonCreateOutcomeUnknown {
			continue
		}
		n++
		Expect(s.Message).To(ContainSubstring("Teams page"))
		patch := `{"metadata":{"annotations":{"` + accessv1alpha1.AnnotationCreatePending + `":null}}}`
		for _, c := range hu.Contacts() {
			if c.Email == ca.Spec.HostUp.Contact.Create.Email {
				patch = `{"metadata":{"annotations":{"` + accessv1alpha1.AnnotationCreatePending + `":null,"` +
					accessv1alpha1.AnnotationCreatedID + `":"` + itoa(c.ID) + `"}}}`
			}
		}
		Expect(k8sClient.Patch(suiteCtx, ca, client.RawPatch("application/merge-patch+json", []byte(patch)))).To(Succeed())
	}
	return n
}

// contactToCreate is a HostUp ContactAccess that creates its contact (password Secret "pw").
func contactToCreate(ns, name, first, last, email string) *accessv1alpha1.ContactAccess {
	return &accessv1alpha1.ContactAccess{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: accessv1alpha1.ContactAccessSpec{
			ProviderConfigRef: accessv1alpha1.ProviderConfigReference{Name: "hostup"},
			HostUp: &accessv1alpha1.HostUpContactAccess{
				Contact: accessv1alpha1.HostUpContact{Create: &accessv1alpha1.HostUpNewContact{
					FirstName: first, LastName: last, Email: email,
					PasswordSecretRef: accessv1alpha1.SecretKeySelector{Name: "pw", Key: "password"},
				}},
				Permissions: accessv1alpha1.HostUpPermissions{CanOpenTickets: true},
			},
		},
	}
}
