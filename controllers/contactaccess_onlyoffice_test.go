package controllers

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"

	accessv1alpha1 "github.com/contactsync/contactsync/api/v1alpha1"
	oo "github.com/contactsync/contactsync/internal/onlyoffice/onlyofficefake"
)

func startOnlyOffice(opts ...oo.Option) (*oo.Server, string) {
	fake := oo.NewDemo(opts...)
	srv := httptest.NewServer(fake)
	DeferCleanup(srv.Close)
	return fake, srv.URL
}

func onlyofficeProviderConfig(ns, name, url, user, password string) *accessv1alpha1.ProviderConfig {
	GinkgoHelper()
	createSecret(ns, name+"-creds", map[string]string{"userName": user, "password": password})
	pc := &accessv1alpha1.ProviderConfig{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: accessv1alpha1.ProviderConfigSpec{
			OnlyOffice: &accessv1alpha1.OnlyOfficeProvider{
				BaseURL:              url,
				CredentialsSecretRef: accessv1alpha1.SecretReference{Name: name + "-creds"},
			},
			RateLimit:    &accessv1alpha1.RateLimit{RequestsPerSecond: 100, Burst: 100},
			SyncInterval: &metav1.Duration{Duration: declaredPoll},
		},
	}
	Expect(k8sClient.Create(suiteCtx, pc)).To(Succeed())
	return pc
}

func onlyofficeAccess(ns, name string, contact int64, shared bool, managers ...accessv1alpha1.ManagerRef) *accessv1alpha1.ContactAccess {
	return &accessv1alpha1.ContactAccess{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: accessv1alpha1.ContactAccessSpec{
			ProviderConfigRef: accessv1alpha1.ProviderConfigReference{Name: "onlyoffice"},
			OnlyOffice:        &accessv1alpha1.OnlyOfficeContactAccess{ContactID: contact, Shared: shared, Managers: managers},
		},
	}
}

// ooWrites counts the calls that can change an ONLYOFFICE portal's sharing.
func ooWrites(f *oo.Server) int {
	return f.Calls(http.MethodPut, oo.RouteContactAccess) + f.Calls(http.MethodPut, oo.RouteContactsAccess)
}

var _ = Describe("ContactAccess on ONLYOFFICE", func() {
	var (
		ns   string
		fake *oo.Server
	)
	BeforeEach(func() {
		ns = newNamespace()
		var url string
		fake, url = startOnlyOffice()
		pc := onlyofficeProviderConfig(ns, "onlyoffice", url, oo.DemoAdminEmail, oo.DemoAdminPassword)
		waitReady(pc)
	})

	It("resolves managers by e-mail, converges, verifies by read, and then only reads", func() {
		ca := onlyofficeAccess(ns, "globex", oo.DemoContactGlobex, false,
			accessv1alpha1.ManagerRef{Email: "Carol@demo.example.com"}, accessv1alpha1.ManagerRef{ID: oo.DemoAliceID})
		Expect(k8sClient.Create(suiteCtx, ca)).To(Succeed())
		waitReady(ca)
		c, _ := fake.Contact(oo.DemoContactGlobex)
		Expect(c.ShareType).To(Equal(0))
		Expect(c.ACL).To(ConsistOf(oo.DemoCarolID, oo.DemoAliceID))
		Expect(ca.Status.Drift).To(BeEmpty(), "corrected and verified: nothing differs any more")
		Eventually(func() []string { return eventNotes(ca) }).Should(ContainElement(
			And(ContainSubstring("managers: add Carol@demo.example.com"), ContainSubstring("managers: remove"))), "the event records what was corrected")
		Expect(ca.Status.Observed.OnlyOffice.ShareType).To(Equal("None"))
		Expect(kstatusOf(ca)).To(Equal(status.CurrentStatus))

		writes := ooWrites(fake)
		lookups := fake.Calls(http.MethodGet, oo.RouteUserByEmail)
		Consistently(func() int { return ooWrites(fake) }).WithTimeout(3 * shortPoll).Should(Equal(writes))
		Expect(fake.Calls(http.MethodGet, oo.RouteUserByEmail)-lookups).To(BeNumerically("<=", 3),
			"manager e-mails are cached for a poll period, not looked up on every read")

		By("making the contact shared is one write, read back")
		updateSpec(ca, func(ca *accessv1alpha1.ContactAccess) {
			ca.Spec.OnlyOffice.Shared = true
			ca.Spec.OnlyOffice.Managers = nil
		})
		Eventually(func() int { c, _ := fake.Contact(oo.DemoContactGlobex); return c.ShareType }).WithTimeout(eventuallyTO).Should(Equal(1))
		waitReady(ca)
		Expect(ooWrites(fake)).To(Equal(writes + 1))
	})

	It("corrects a Read-only share made in the web UI within one poll", func() {
		ca := onlyofficeAccess(ns, "grace", oo.DemoContactGrace, true)
		Expect(k8sClient.Create(suiteCtx, ca)).To(Succeed())
		waitReady(ca)
		Expect(fake.SetContactAccess(oo.DemoContactGrace, 2, nil)).To(Succeed())
		Eventually(func() []string { return eventNotes(ca) }).WithTimeout(2*shortPoll + 2*time.Second).
			Should(ContainElement(ContainSubstring("shareType: Read -> ReadWrite")))
		c, _ := fake.Contact(oo.DemoContactGrace)
		Expect(c.ShareType).To(Equal(1))
	})

	DescribeTable("stalls with a readable condition and writes nothing",
		func(ref accessv1alpha1.ManagerRef, reason, message string) {
			writes := ooWrites(fake)
			ca := onlyofficeAccess(ns, "bad", oo.DemoContactAda, false, ref)
			Expect(k8sClient.Create(suiteCtx, ca)).To(Succeed())
			Eventually(condition(ca, accessv1alpha1.TypeStalled)).WithTimeout(eventuallyTO).
				Should(haveCond(metav1.ConditionTrue, reason))
			Expect(condition(ca, accessv1alpha1.TypeStalled)().Message).To(ContainSubstring(message))
			Expect(kstatusOf(ca)).To(Equal(status.FailedStatus))
			Consistently(func() int { return ooWrites(fake) }).WithTimeout(shortPoll).Should(Equal(writes))
		},
		Entry("an unknown e-mail", accessv1alpha1.ManagerRef{Email: "nobody@demo.example.com"},
			accessv1alpha1.ReasonUnknownManager, "no portal user has the e-mail nobody@demo.example.com"),
		Entry("a terminated user", accessv1alpha1.ManagerRef{Email: oo.DemoTerminatedEmail},
			accessv1alpha1.ReasonManagerNotActive, oo.DemoTerminatedEmail+" is terminated"),
		Entry("a visitor", accessv1alpha1.ManagerRef{Email: oo.DemoVisitorEmail},
			accessv1alpha1.ReasonManagerNotActive, "a visitor"),
		// By id, the same rules: ONLYOFFICE would store any GUID and make the contact private to it.
		Entry("an unknown id", accessv1alpha1.ManagerRef{ID: "0badc0de-0000-4000-8000-00000000beef"},
			accessv1alpha1.ReasonUnknownManager, "no portal user has the id 0badc0de-0000-4000-8000-00000000beef"),
		Entry("a terminated user by id", accessv1alpha1.ManagerRef{ID: oo.DemoTerminatedID},
			accessv1alpha1.ReasonManagerNotActive, "the id "+oo.DemoTerminatedID+" is terminated"),
		Entry("a visitor by id", accessv1alpha1.ManagerRef{ID: strings.ToUpper(oo.DemoVisitorID)},
			accessv1alpha1.ReasonManagerNotActive, "a visitor"),
	)

	It("rejects wrong credentials without a login storm", func() {
		other := newNamespace()
		_, url := startOnlyOffice()
		pc := onlyofficeProviderConfig(other, "onlyoffice", url, oo.DemoAdminEmail, "wrong-password")
		Eventually(condition(pc, accessv1alpha1.TypeStalled)).WithTimeout(eventuallyTO).
			Should(haveCond(metav1.ConditionTrue, accessv1alpha1.ReasonCredentialsRejected))
		Expect(condition(pc, accessv1alpha1.TypeStalled)().Message).NotTo(ContainSubstring("wrong-password"))
		ca := onlyofficeAccess(other, "ada", oo.DemoContactAda, true)
		Expect(k8sClient.Create(suiteCtx, ca)).To(Succeed())
		Eventually(condition(ca, accessv1alpha1.TypeReady)).WithTimeout(eventuallyTO).
			Should(haveCond(metav1.ConditionFalse, accessv1alpha1.ReasonProviderConfigNotReady))
	})
})
