package controllers

import (
	"errors"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	accessv1alpha1 "github.com/contactsync/contactsync/api/v1alpha1"
	"github.com/contactsync/contactsync/internal/hostup/hostupfake"
	"github.com/contactsync/contactsync/internal/reconciler"
)

// annaID is the demo account's first contact (ops rights on VPS XS and example.com).
const annaID int64 = hostupfake.FirstContactID

func hostupAccess(ns, name, pc string, id *int64, perms accessv1alpha1.HostUpPermissions) *accessv1alpha1.ContactAccess {
	return &accessv1alpha1.ContactAccess{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: accessv1alpha1.ContactAccessSpec{
			ProviderConfigRef: accessv1alpha1.ProviderConfigReference{Name: pc},
			HostUp: &accessv1alpha1.HostUpContactAccess{
				Contact:     accessv1alpha1.HostUpContact{ID: id},
				Permissions: perms,
			},
		},
	}
}

func ptr[T any](v T) *T { return &v }

var _ = Describe("ContactAccess on HostUp", func() {
	var (
		ns   string
		fake *hostupfake.Server
		pc   *accessv1alpha1.ProviderConfig
	)
	BeforeEach(func() {
		ns = newNamespace()
		var url string
		fake, url = startHostUp()
		pc = hostupProviderConfig(ns, "hostup", url, testAPIKey)
		waitReady(pc)
	})

	It("converges, verifies, writes once per spec edit and never in a steady state", func() {
		ca := hostupAccess(ns, "anna", "hostup", ptr(annaID), accessv1alpha1.HostUpPermissions{
			Services:        []accessv1alpha1.ResourceRef{{Name: "VPS M"}, {ID: "18732"}},
			Domains:         []accessv1alpha1.ResourceRef{{Name: "example.se"}},
			CanViewInvoices: true, CanOpenTickets: true,
		})
		Expect(k8sClient.Create(suiteCtx, ca)).To(Succeed())
		waitReady(ca)

		got, ok := fake.ContactPermissions(annaID)
		Expect(ok).To(BeTrue())
		Expect(got).To(Equal(hostupfake.Permissions{
			Services: []string{"14102", "18732"}, Domains: []string{"21267"}, DNSZones: nil,
			CanViewInvoices: true, CanOpenTickets: true,
		}))
		Expect(ca.Status.ContactID).To(Equal("14000"))
		Expect(ca.Status.Observed.HostUp.Rights).To(ConsistOf("canViewInvoices", "canOpenTickets"))
		Expect(ca.Status.Drift).To(BeEmpty(), "corrected and verified: nothing differs any more")
		Eventually(func() []string { return eventNotes(ca) }).Should(ContainElement(ContainSubstring("services: grant")),
			"the event records what was corrected (the demo contact started with other rights)")
		Expect(kstatusOf(ca)).To(Equal(status.CurrentStatus))
		Eventually(func() []string { return eventReasons(ca) }).Should(ContainElement(reconciler.EventUpdated))

		By("a spec edit costs exactly one write")
		writes := hostupWrites(fake)
		updateSpec(ca, func(ca *accessv1alpha1.ContactAccess) {
			ca.Spec.HostUp.Permissions.CanPlaceOrders = true
		})
		Eventually(func() bool {
			p, _ := fake.ContactPermissions(annaID)
			return p.CanPlaceOrders
		}).WithTimeout(eventuallyTO).Should(BeTrue())
		waitReady(ca)

		By("a steady state across several polls writes nothing")
		Expect(hostupWrites(fake)).To(Equal(writes + 1))
		reads := fake.Calls("GET /api/contacts/{id}/permissions")
		Consistently(func() int { return hostupWrites(fake) }).WithTimeout(3 * shortPoll).
			Should(Equal(writes + 1))
		Expect(fake.Calls("GET /api/contacts/{id}/permissions")-reads).To(BeNumerically(">=", 2), "it kept polling")
		Expect(fake.Calls("GET /api/contacts/{id}/permissions")-reads).To(BeNumerically("<=", 5), "one read per poll")
	})

	It("reports drift made in the dashboard and corrects it within one poll", func() {
		ca := hostupAccess(ns, "anna", "hostup", ptr(annaID), accessv1alpha1.HostUpPermissions{
			DNSZones: []accessv1alpha1.ResourceRef{{Name: "example.com"}}, CanViewTickets: true,
		})
		Expect(k8sClient.Create(suiteCtx, ca)).To(Succeed())
		waitReady(ca)

		Expect(fake.SetContactPermissions(annaID, hostupfake.Permissions{
			DNSZones: []string{"3034", "3035"}, CanViewTickets: true, CanPlaceOrders: true,
		})).To(Succeed())
		start := time.Now()
		Eventually(func() []string { return eventNotes(ca) }).WithTimeout(2 * shortPoll).
			Should(ContainElement(SatisfyAll(
				ContainSubstring(reconciler.EventDriftCorrected),
				ContainSubstring("dnsZones: revoke example.se (3035)"),
				ContainSubstring("canPlaceOrders: true -> false"))))
		Expect(time.Since(start)).To(BeNumerically("<", 2*shortPoll))
		p, _ := fake.ContactPermissions(annaID)
		Expect(p).To(Equal(hostupfake.Permissions{DNSZones: []string{"3034"}, CanViewTickets: true}))
	})

	It("under Observe computes the plan and never writes", func() {
		writes := hostupWrites(fake)
		before, _ := fake.ContactPermissions(annaID)
		ca := hostupAccess(ns, "anna", "hostup", ptr(annaID), accessv1alpha1.HostUpPermissions{CanPlaceOrders: true})
		ca.Spec.ManagementPolicy = accessv1alpha1.ManagementObserve
		Expect(k8sClient.Create(suiteCtx, ca)).To(Succeed())
		Eventually(condition(ca, accessv1alpha1.TypeReady)).WithTimeout(eventuallyTO).
			Should(haveCond(metav1.ConditionTrue, accessv1alpha1.ReasonObserveOnly))
		Expect(condition(ca, accessv1alpha1.TypeReady)().Message).To(ContainSubstring("change(s) pending, see status.plan; nothing was written"))
		Expect(ca.Status.Plan).To(ContainElements("canPlaceOrders: false -> true", "services: revoke VPS XS (14101)"))
		Expect(kstatusOf(ca)).To(Equal(status.CurrentStatus))
		Consistently(func() int { return hostupWrites(fake) }).WithTimeout(2 * shortPoll).Should(Equal(writes))
		after, _ := fake.ContactPermissions(annaID)
		Expect(after).To(Equal(before))
		Eventually(func() []string { return eventReasons(ca) }).Should(ContainElement(reconciler.EventDriftDetected))

		By("deleting an Observe object changes nothing either, whatever its deletionPolicy")
		Expect(ca.Spec.DeletionPolicy).To(Equal(accessv1alpha1.DeletionRevoke))
		Expect(k8sClient.Delete(suiteCtx, ca)).To(Succeed())
		Eventually(func() error { return k8sClient.Get(suiteCtx, client.ObjectKeyFromObject(ca), ca) }).WithTimeout(eventuallyTO).ShouldNot(Succeed())
		Expect(hostupWrites(fake)).To(Equal(writes))
		after, _ = fake.ContactPermissions(annaID)
		Expect(after).To(Equal(before))
	})

	It("stalls on an unknown service name, naming close matches, and writes nothing", func() {
		writes := hostupWrites(fake)
		ca := hostupAccess(ns, "anna", "hostup", ptr(annaID), accessv1alpha1.HostUpPermissions{
			Services: []accessv1alpha1.ResourceRef{{Name: "VPS XL"}},
		})
		Expect(k8sClient.Create(suiteCtx, ca)).To(Succeed())
		Eventually(condition(ca, accessv1alpha1.TypeStalled)).WithTimeout(eventuallyTO).
			Should(haveCond(metav1.ConditionTrue, accessv1alpha1.ReasonUnknownResource))
		c := condition(ca, accessv1alpha1.TypeStalled)()
		Expect(c.Message).To(ContainSubstring(`services[0]: name "VPS XL" not found (did you mean "VPS XS"`))
		Expect(kstatusOf(ca)).To(Equal(status.FailedStatus))
		Eventually(func() []string { return eventReasons(ca) }).Should(ContainElement(accessv1alpha1.ReasonUnknownResource))
		Consistently(func() int { return hostupWrites(fake) }).WithTimeout(shortPoll).Should(Equal(writes))
	})

	It("creates a contact once, even when the manager crashes before recording its id", func() {
		createSecret(ns, "pw", map[string]string{"password": "s3cret-Passw0rd"})
		contacts := len(fake.Contacts())
		crash := func() error { return errors.New("simulated crash after the create call") }
		crashAfterCreate.Store(&crash)
		DeferCleanup(func() { crashAfterCreate.Store(nil) })

		ca := &accessv1alpha1.ContactAccess{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "new"},
			Spec: accessv1alpha1.ContactAccessSpec{
				ProviderConfigRef: accessv1alpha1.ProviderConfigReference{Name: "hostup"},
				HostUp: &accessv1alpha1.HostUpContactAccess{
					Contact: accessv1alpha1.HostUpContact{Create: &accessv1alpha1.HostUpNewContact{
						FirstName: "Nils", LastName: "Ek", Email: "nils@example.com",
						PasswordSecretRef: accessv1alpha1.SecretKeySelector{Name: "pw", Key: "password"},
					}},
					Permissions: accessv1alpha1.HostUpPermissions{CanViewInvoices: true},
				},
			},
		}
		Expect(k8sClient.Create(suiteCtx, ca)).To(Succeed())
		Eventually(condition(ca, accessv1alpha1.TypeStalled)).WithTimeout(eventuallyTO).
			Should(haveCond(metav1.ConditionTrue, accessv1alpha1.ReasonCreateOutcomeUnknown))
		Expect(condition(ca, accessv1alpha1.TypeStalled)().Message).To(ContainSubstring("remove the annotation " + accessv1alpha1.AnnotationCreatePending))
		Expect(kstatusOf(ca)).To(Equal(status.FailedStatus))
		Consistently(func() int { return len(fake.Contacts()) }).WithTimeout(2 * shortPoll).Should(Equal(contacts + 1))

		By("a person records the id they found in the dashboard; the object converges on that contact")
		crashAfterCreate.Store(nil)
		all := fake.Contacts()
		created := all[len(all)-1]
		Expect(created.Email).To(Equal("nils@example.com"))
		Expect(created.Password).To(Equal("s3cret-Passw0rd"))
		patch := client.RawPatch("application/merge-patch+json", []byte(
			`{"metadata":{"annotations":{"`+accessv1alpha1.AnnotationCreatePending+`":null,"`+accessv1alpha1.AnnotationCreatedID+`":"`+
				itoa(created.ID)+`"}}}`))
		Expect(k8sClient.Patch(suiteCtx, ca, patch)).To(Succeed())
		waitReady(ca)
		p, _ := fake.ContactPermissions(created.ID)
		Expect(p.CanViewInvoices).To(BeTrue())
		Expect(fake.Contacts()).To(HaveLen(contacts + 1))

		By("deletionPolicy Delete removes the contact this object created")
		updateSpec(ca, func(ca *accessv1alpha1.ContactAccess) {
			ca.Spec.DeletionPolicy = accessv1alpha1.DeletionDelete
		})
		Expect(k8sClient.Delete(suiteCtx, ca)).To(Succeed())
		Eventually(func() int { return len(fake.Contacts()) }).WithTimeout(eventuallyTO).Should(Equal(contacts))
	})

	It("revokes everything on delete by default, and leaves the account under Orphan", func() {
		revoke := hostupAccess(ns, "anna", "hostup", ptr(annaID), accessv1alpha1.HostUpPermissions{CanOpenTickets: true})
		erikID := annaID + 1
		orphan := hostupAccess(ns, "erik", "hostup", ptr(erikID), accessv1alpha1.HostUpPermissions{CanViewInvoices: true})
		orphan.Spec.DeletionPolicy = accessv1alpha1.DeletionOrphan
		Expect(k8sClient.Create(suiteCtx, revoke)).To(Succeed())
		Expect(k8sClient.Create(suiteCtx, orphan)).To(Succeed())
		waitReady(revoke)
		waitReady(orphan)

		Expect(k8sClient.Delete(suiteCtx, revoke)).To(Succeed())
		Expect(k8sClient.Delete(suiteCtx, orphan)).To(Succeed())
		Eventually(func() bool {
			return k8sClient.Get(suiteCtx, client.ObjectKeyFromObject(revoke), revoke) != nil &&
				k8sClient.Get(suiteCtx, client.ObjectKeyFromObject(orphan), orphan) != nil
		}).WithTimeout(eventuallyTO).Should(BeTrue())
		p, _ := fake.ContactPermissions(annaID)
		Expect(p).To(Equal(hostupfake.Permissions{}))
		q, _ := fake.ContactPermissions(erikID)
		Expect(q).To(Equal(hostupfake.Permissions{CanViewInvoices: true}))
		Expect(fake.Contacts()).To(HaveLen(2), "Revoke never deletes a contact")
	})
})

var _ = Describe("ProviderConfig and references", func() {
	It("says what to fix for wrong credentials, a missing Secret and a cross-namespace reference, and writes nothing", func() {
		ns := newNamespace()
		fake, url := startHostUp()

		wrong := hostupProviderConfig(ns, "wrong", url, "not-the-key")
		Eventually(condition(wrong, accessv1alpha1.TypeStalled)).WithTimeout(eventuallyTO).
			Should(haveCond(metav1.ConditionTrue, accessv1alpha1.ReasonCredentialsRejected))
		Expect(condition(wrong, accessv1alpha1.TypeReady)().Message).NotTo(ContainSubstring("not-the-key"))
		Expect(kstatusOf(wrong)).To(Equal(status.FailedStatus))

		missing := hostupProviderConfig(ns, "missing", url, "")
		Eventually(condition(missing, accessv1alpha1.TypeStalled)).WithTimeout(eventuallyTO).
			Should(haveCond(metav1.ConditionTrue, accessv1alpha1.ReasonSecretNotFound))
		Expect(condition(missing, accessv1alpha1.TypeReady)().Message).To(ContainSubstring(`Secret "missing-key" not found`))

		ca := hostupAccess(ns, "uses-wrong", "wrong", ptr(annaID), accessv1alpha1.HostUpPermissions{CanPlaceOrders: true})
		Expect(k8sClient.Create(suiteCtx, ca)).To(Succeed())
		Eventually(condition(ca, accessv1alpha1.TypeReady)).WithTimeout(eventuallyTO).
			Should(haveCond(metav1.ConditionFalse, accessv1alpha1.ReasonProviderConfigNotReady))
		Expect(kstatusOf(ca)).To(Equal(status.InProgressStatus))

		By("another namespace's ProviderConfig of the same name is invisible")
		other := newNamespace()
		createSecret(other, "missing-key", map[string]string{"apiKey": testAPIKey})
		Consistently(condition(missing, accessv1alpha1.TypeStalled)).WithTimeout(shortPoll+time.Second).
			Should(haveCond(metav1.ConditionTrue, accessv1alpha1.ReasonSecretNotFound), "a Secret of another namespace is never read")
		good := hostupProviderConfig(other, "shared-name", url, testAPIKey)
		waitReady(good)
		cross := hostupAccess(ns, "cross", "shared-name", ptr(annaID), accessv1alpha1.HostUpPermissions{CanPlaceOrders: true})
		Expect(k8sClient.Create(suiteCtx, cross)).To(Succeed())
		Eventually(condition(cross, accessv1alpha1.TypeStalled)).WithTimeout(eventuallyTO).
			Should(haveCond(metav1.ConditionTrue, accessv1alpha1.ReasonProviderConfigNotFound))

		Expect(hostupWrites(fake)).To(BeZero())

		By("fixing the Secret re-verifies and the waiting object converges")
		Expect(k8sClient.Patch(suiteCtx, secretRef(ns, "wrong-key"),
			client.RawPatch("application/merge-patch+json", []byte(`{"stringData":{"apiKey":"`+testAPIKey+`"}}`)))).To(Succeed())
		waitReady(wrong)
		waitReady(ca)
		p, _ := fake.ContactPermissions(annaID)
		Expect(p).To(Equal(hostupfake.Permissions{CanPlaceOrders: true}))
	})
})
