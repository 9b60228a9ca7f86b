package controllers

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	accessv1alpha1 "github.com/contactsync/contactsync/api/v1alpha1"
	"github.com/contactsync/contactsync/internal/hostup/hostupfake"
)

// A create that reaches HostUp but whose answer is lost (the connection drops after the write)
// is the case that makes blind retries create duplicates.
var _ = Describe("Creates whose answer is lost", func() {
	var (
		ns   string
		fake *hostupfake.Server
	)
	BeforeEach(func() {
		ns = newNamespace()
		var url string
		fake, url = startHostUp()
		waitReady(hostupProviderConfig(ns, "hostup", url, testAPIKey))
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

	It("adopts the invitation an interrupted attempt created instead of inviting twice", func() {
		fake.Program("POST /api/delegated-access", 1, hostupfake.Fault{AfterApply: true, Drop: true})
		dg := delegatedGrant(ns, "lost", "lost@example.com")
		Expect(k8sClient.Create(suiteCtx, dg)).To(Succeed())
		Eventually(func() []string { return eventReasons(dg) }).WithTimeout(eventuallyTO).Should(ContainElement(eventAdopted))
		waitReady(dg)
		grants := grantsFor(fake, "lost@example.com")
		Expect(grants).To(HaveLen(1))
		Expect(dg.Status.GrantID).To(Equal(grants[0].ID))
		Consistently(func() int { return fake.Calls("POST /api/delegated-access") }).WithTimeout(shortPoll).
			WithPolling(500 * time.Millisecond).Should(Equal(1))
	})
})
