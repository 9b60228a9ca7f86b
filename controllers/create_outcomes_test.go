package controllers

import (
	"errors"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	accessv1alpha1 "github.com/contactsync/contactsync/api/v1alpha1"
	"github.com/contactsync/contactsync/internal/hostup/hostupfake"
	"github.com/contactsync/contactsync/internal/reconciler"
)

// Regression tests of the create outcomes (issue 12): every create and re-invite goes through
// the one create-intent protocol in internal/reconciler/intent.go.
var _ = Describe("Create outcomes", func() {
	var (
		ns   string
		fake *hostupfake.Server
	)
	setup := func(opts ...hostupfake.Option) {
		ns = newNamespace()
		var url string
		fake, url = startHostUp(opts...)
		waitReady(hostupProviderConfig(ns, "hostup", url, testAPIKey))
	}
	newContact := func(name, email string) *accessv1alpha1.ContactAccess {
		createSecret(ns, name+"-pw", map[string]string{"password": "Create-0utcome-pw"})
		return &accessv1alpha1.ContactAccess{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: accessv1alpha1.ContactAccessSpec{
				ProviderConfigRef: accessv1alpha1.ProviderConfigReference{Name: "hostup"},
				HostUp: &accessv1alpha1.HostUpContactAccess{Contact: accessv1alpha1.HostUpContact{Create: &accessv1alpha1.HostUpNewContact{
					FirstName: "Cre", LastName: "Ate", Email: email,
					PasswordSecretRef: accessv1alpha1.SecretKeySelector{Name: name + "-pw", Key: "password"},
				}}},
			},
		}
	}

	for name, body := range map[string]string{
		"a coded 500 (INTERNAL_SERVER_ERROR)": `{"code":"INTERNAL_SERVER_ERROR","error":"Internal Server Error","message":"Something went wrong","requestId":"r-500","timestamp":"2026-01-01T00:00:00Z"}`,
		`{"code":504}`:                        `{"code":504}`,
	} {
		It("never creates a second contact after "+name+" answered a create HostUp applied", func() {
			setup()
			status := 500
			if body == `{"code":504}` {
				status = 504
			}
			fake.Program("POST /api/teams", 1, hostupfake.Fault{Status: status, Body: body, ContentType: "application/json", AfterApply: true})
			before := len(fake.Contacts())
			ca := newContact("coded", "coded@example.com")
			Expect(k8sClient.Create(suiteCtx, ca)).To(Succeed())
			Eventually(condition(ca, accessv1alpha1.TypeStalled)).WithTimeout(eventuallyTO).
				Should(haveCond(metav1.ConditionTrue, accessv1alpha1.ReasonCreateOutcomeUnknown))
			Consistently(func() int { return fake.Calls("POST /api/teams") }).WithTimeout(2 * shortPoll).Should(Equal(1))
			Expect(fake.Contacts()).To(HaveLen(before + 1))
		})
	}

	It("sends exactly one new invitation when the manager crashes between a re-invite and its id", func() {
		setup(hostupfake.WithInviteTTL(3 * time.Second))
		var creates atomic.Int32
		crash := func() error {
			if creates.Add(1) == 2 { // the first invite passes; the re-invite "crashes"
				return errors.New("simulated crash after the re-invite call")
			}
			return nil
		}
		crashAfterCreate.Store(&crash)
		DeferCleanup(func() { crashAfterCreate.Store(nil) })

		dg := delegatedGrant(ns, "again", "again@example.com")
		dg.Spec.ReinviteOnExpiry = true
		Expect(k8sClient.Create(suiteCtx, dg)).To(Succeed())
		Eventually(func() int { return len(grantsFor(fake, "again@example.com")) }).WithTimeout(eventuallyTO).Should(Equal(2))
		Eventually(func() []string { return eventReasons(dg) }).WithTimeout(eventuallyTO).Should(ContainElement(reconciler.EventAdopted))
		// Exactly one new invitation: when the crashed re-invite is adopted, the account holds the
		// first grant and the one the re-invite made, nothing more.
		grants := grantsFor(fake, "again@example.com")
		Expect(grants).To(HaveLen(2))
		Expect(fake.Calls("POST /api/delegated-access")).To(Equal(2))
		Eventually(func() string { return getDG(dg).Status.GrantID }).WithTimeout(eventuallyTO).Should(Equal(grants[1].ID))
		Expect(creates.Load()).To(BeNumerically(">=", 2))
	})
})

var _ = Describe("A create HostUp refuses", func() {
	It("shows the provider's message, no conflict and no stale reason, and does not retry in a burst", func() {
		ns := newNamespace()
		fake, url := startHostUp()
		waitReady(hostupProviderConfig(ns, "hostup", url, testAPIKey))
		fake.Program("POST /api/teams", 100, hostupfake.Fault{AddContactFailure: true})
		before := len(fake.Contacts())
		createSecret(ns, "pw", map[string]string{"password": "Refused-pw-123"})
		ca := &accessv1alpha1.ContactAccess{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "refused"},
			Spec: accessv1alpha1.ContactAccessSpec{
				ProviderConfigRef: accessv1alpha1.ProviderConfigReference{Name: "hostup"},
				SyncInterval:      &metav1.Duration{Duration: 2 * declaredPoll},
				HostUp: &accessv1alpha1.HostUpContactAccess{Contact: accessv1alpha1.HostUpContact{Create: &accessv1alpha1.HostUpNewContact{
					FirstName: "Re", LastName: "Fused", Email: "refused@example.com",
					PasswordSecretRef: accessv1alpha1.SecretKeySelector{Name: "pw", Key: "password"},
				}}},
			},
		}
		Expect(k8sClient.Create(suiteCtx, ca)).To(Succeed())
		Eventually(condition(ca, accessv1alpha1.TypeReady)).WithTimeout(eventuallyTO).
			Should(haveCond(metav1.ConditionFalse, accessv1alpha1.ReasonCreateRefused))
		for _, t := range []string{accessv1alpha1.TypeReady, accessv1alpha1.TypeSynced} {
			c := condition(ca, t)()
			Expect(c.Message).To(ContainSubstring("Failed to add contact"), t)
			Expect(c.Message).NotTo(ContainSubstring("the object has been modified"), t)
			Expect(c.Reason).NotTo(Equal(accessv1alpha1.ReasonProviderConfigNotReady), t)
		}
		// The first retry waits for the backoff (30 s, capped at the object's interval, here
		// 2*shortPoll as the test manager runs it); our own annotation changes do not send another
		// create.
		Consistently(func() int { return fake.Calls("POST /api/teams") }).WithTimeout(3 * shortPoll / 2).Should(Equal(1))
		Expect(fake.Contacts()).To(HaveLen(before), "nothing was created")
		Expect(k8sClient.Get(suiteCtx, client.ObjectKeyFromObject(ca), ca)).To(Succeed())
		_, pending := reconciler.CreatePending(ca)
		Expect(pending).To(BeFalse(), "the intent of a refused create is withdrawn")
	})
})
