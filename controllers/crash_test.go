package controllers

import (
	"net/http"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	accessv1alpha1 "github.com/contactsync/contactsync/api/v1alpha1"
	"github.com/contactsync/contactsync/internal/hostup/hostupfake"
	"github.com/contactsync/contactsync/internal/reconciler"
)

// A create that reaches HostUp but whose answer is lost (the connection drops after the write)
// is the case that makes blind retries create duplicates.
var _ = Describe("Creates whose answer is lost", func() {
	var (
		ns      string
		fake    *hostupfake.Server
		fakeURL string
	)
	BeforeEach(func() {
		ns = newNamespace()
		fake, fakeURL = startHostUp()
		waitReady(hostupProviderConfig(ns, "hostup", fakeURL, testAPIKey))
	})

	It("never creates a second contact and says how to resolve it", func() {
		createSecret(ns, "pw", map[string]string{"password": "Another-s3cret"})
		fake.Program("POST /api/teams", 1, hostupfake.Fault{AfterApply: true, Drop: true})
		ca := &accessv1alpha1.ContactAccess{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "lost"},
			Spec: accessv1alpha1.ContactAccessSpec{
				ProviderConfigRef: accessv1alpha1.ProviderConfigReference{Name: "hostup"},
				HostUp: &accessv1alpha1.HostUpContactAccess{Contact: accessv1alpha1.HostUpContact{Create: &accessv1alpha1.HostUpNewContact{
					FirstName: "Lo", LastName: "St", Email: "lost@example.com",
					PasswordSecretRef: accessv1alpha1.SecretKeySelector{Name: "pw", Key: "password"},
				}}},
			},
		}
		Expect(k8sClient.Create(suiteCtx, ca)).To(Succeed())
		Eventually(condition(ca, accessv1alpha1.TypeStalled)).WithTimeout(eventuallyTO).
			Should(haveCond(metav1.ConditionTrue, accessv1alpha1.ReasonCreateOutcomeUnknown))
		Expect(condition(ca, accessv1alpha1.TypeStalled)().Message).To(ContainSubstring("Teams page"))
		Consistently(func() int { return fake.Calls("POST /api/teams") }).WithTimeout(2 * shortPoll).Should(Equal(1))
		Expect(fake.Contacts()).To(HaveLen(3))
	})

	It("on delete, finds the invitation an interrupted attempt created and does not let it go unrevoked", func() {
		// The state a crash leaves: intent recorded, the invite made in HostUp, its id not recorded.
		req, _ := http.NewRequest(http.MethodPost, fakeURL+"/delegated-access", strings.NewReader(`{"email":"orphan@example.com","label":"x"}`))
		req.Header.Set("X-API-Key", testAPIKey)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		Expect(err).NotTo(HaveOccurred())
		Expect(resp.StatusCode).To(Equal(http.StatusCreated))
		_ = resp.Body.Close()
		dg := delegatedGrant(ns, "interrupted", "orphan@example.com")
		dg.Finalizers = []string{accessv1alpha1.Finalizer}
		dg.Annotations = map[string]string{accessv1alpha1.AnnotationCreatePending: time.Now().UTC().Format(time.RFC3339)}
		Expect(k8sClient.Create(suiteCtx, dg)).To(Succeed())
		Expect(k8sClient.Delete(suiteCtx, dg)).To(Succeed())
		id := grantsFor(fake, "orphan@example.com")[0].ID
		Eventually(condition(dg, accessv1alpha1.TypeStalled)).WithTimeout(eventuallyTO).
			Should(haveCond(metav1.ConditionTrue, accessv1alpha1.ReasonRevocationRequiresDashboard))
		Expect(condition(dg, accessv1alpha1.TypeStalled)().Message).To(ContainSubstring(id))
		Expect(fake.RevokeGrant(id)).To(Succeed())
		Eventually(func() error { return k8sClient.Get(suiteCtx, client.ObjectKeyFromObject(dg), dg) }).
			WithTimeout(2*shortPoll + 5*time.Second).ShouldNot(Succeed())
	})

	It("adopts the invitation an interrupted attempt created instead of inviting twice", func() {
		fake.Program("POST /api/delegated-access", 1, hostupfake.Fault{AfterApply: true, Drop: true})
		dg := delegatedGrant(ns, "lost", "lost@example.com")
		Expect(k8sClient.Create(suiteCtx, dg)).To(Succeed())
		Eventually(func() []string { return eventReasons(dg) }).WithTimeout(eventuallyTO).Should(ContainElement(reconciler.EventAdopted))
		waitReady(dg)
		grants := grantsFor(fake, "lost@example.com")
		Expect(grants).To(HaveLen(1))
		Expect(dg.Status.GrantID).To(Equal(grants[0].ID))
		Consistently(func() int { return fake.Calls("POST /api/delegated-access") }).WithTimeout(shortPoll).
			WithPolling(500 * time.Millisecond).Should(Equal(1))
	})
})
