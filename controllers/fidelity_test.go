package controllers

import (
	"strconv"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	accessv1alpha1 "github.com/contactsync/contactsync/api/v1alpha1"
	"github.com/contactsync/contactsync/internal/hostup/hostupfake"
)

// Fidelity (issue 13): the product runs against each documented or inferred shape the fakes
// can serve, not only the one they serve by default.
var _ = Describe("HostUp shapes", func() {
	Context("GET permissions with domains and dnsZones as string arrays (the documented GET stub)", func() {
		var (
			ns   string
			fake *hostupfake.Server
		)
		BeforeEach(func() {
			ns = newNamespace()
			var url string
			fake, url = startHostUp(hostupfake.WithStringLists())
			waitReady(hostupProviderConfig(ns, "hostup", url, testAPIKey))
		})

		It("converges on resources named by id and then writes nothing", func() {
			writes := hostupWrites(fake)
			ca := hostupAccess(ns, "by-id", "hostup", ptr(annaID), accessv1alpha1.HostUpPermissions{
				Services:       []accessv1alpha1.ResourceRef{{Name: "VPS M"}},
				Domains:        []accessv1alpha1.ResourceRef{{ID: "21267"}},
				DNSZones:       []accessv1alpha1.ResourceRef{{ID: "3035"}},
				CanOpenTickets: true,
			})
			Expect(k8sClient.Create(suiteCtx, ca)).To(Succeed())
			waitReady(ca)
			got, _ := fake.ContactPermissions(annaID)
			Expect(got.Services).To(ConsistOf("14102"))
			Expect(got.Domains).To(ConsistOf("21267"))
			Expect(got.DNSZones).To(ConsistOf("3035"))
			Expect(hostupWrites(fake)).To(Equal(writes + 1))
			Consistently(func() int { return hostupWrites(fake) }).WithTimeout(3 * shortPoll).
				Should(Equal(writes + 1))
		})

		It("stalls naming an entry given by name, still reports what it saw, and writes nothing", func() {
			writes := hostupWrites(fake)
			ca := hostupAccess(ns, "by-name", "hostup", ptr(annaID), accessv1alpha1.HostUpPermissions{
				Domains:  []accessv1alpha1.ResourceRef{{ID: "21266"}},
				DNSZones: []accessv1alpha1.ResourceRef{{Name: "example.se"}},
			})
			Expect(k8sClient.Create(suiteCtx, ca)).To(Succeed())
			Eventually(condition(ca, accessv1alpha1.TypeStalled)).WithTimeout(eventuallyTO).
				Should(haveCond(metav1.ConditionTrue, accessv1alpha1.ReasonUnknownResource))
			msg := condition(ca, accessv1alpha1.TypeStalled)().Message
			Expect(msg).To(ContainSubstring(`dnsZones[0]: name "example.se"`))
			Expect(msg).To(ContainSubstring("spec.hostup.permissions.dnsZones[0].id"))
			Expect(msg).NotTo(ContainSubstring("domains[0]"), "the entry given by id is fine")
			Expect(k8sClient.Get(suiteCtx, client.ObjectKeyFromObject(ca), ca)).To(Succeed())
			Expect(ca.Status.Observed).NotTo(BeNil())
			Expect(ca.Status.Observed.HostUp.DNSZones).NotTo(BeEmpty(), "what HostUp reported is shown")
			Consistently(func() int { return hostupWrites(fake) }).WithTimeout(shortPoll).Should(Equal(writes))
		})
	})

	DescribeTable("accessAll* converges with one write and then none, whichever convention HostUp uses",
		func(opts ...hostupfake.Option) {
			ns := newNamespace()
			fake, url := startHostUp(opts...)
			waitReady(hostupProviderConfig(ns, "hostup", url, testAPIKey))
			writes := hostupWrites(fake)
			ca := hostupAccess(ns, "all-vps", "hostup", ptr(annaID), accessv1alpha1.HostUpPermissions{
				Services:     []accessv1alpha1.ResourceRef{{Name: "VPS M"}},
				Domains:      []accessv1alpha1.ResourceRef{{Name: "example.se"}},
				AccessAllVps: true, AccessAllDomains: true, CanOpenTickets: true,
			})
			Expect(k8sClient.Create(suiteCtx, ca)).To(Succeed())
			waitReady(ca)
			Expect(hostupWrites(fake)).To(Equal(writes + 1))
			Consistently(func() int { return hostupWrites(fake) }).WithTimeout(3*shortPoll).
				Should(Equal(writes+1), "every poll after the first write must find nothing to do")
		},
		Entry("per-item flags only (the fake's default)"),
		Entry("every covered item hasAccess:true (inferred)", hostupfake.WithAccessAllExpanded()),
	)
})

var _ = Describe("Deleting a HostUp contact with deletionPolicy Delete", func() {
	create := func(ns, name string) *accessv1alpha1.ContactAccess {
		createSecret(ns, name+"-pw", map[string]string{"password": "Delete-pw-123"})
		ca := &accessv1alpha1.ContactAccess{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: accessv1alpha1.ContactAccessSpec{
				ProviderConfigRef: accessv1alpha1.ProviderConfigReference{Name: "hostup"},
				DeletionPolicy:    accessv1alpha1.DeletionDelete,
				SyncInterval:      &metav1.Duration{Duration: declaredPoll},
				HostUp: &accessv1alpha1.HostUpContactAccess{Contact: accessv1alpha1.HostUpContact{Create: &accessv1alpha1.HostUpNewContact{
					FirstName: "De", LastName: "Lete", Email: name + "@example.com",
					PasswordSecretRef: accessv1alpha1.SecretKeySelector{Name: name + "-pw", Key: "password"},
				}}},
			},
		}
		Expect(k8sClient.Create(suiteCtx, ca)).To(Succeed())
		waitReady(ca)
		return ca
	}
	gone := func(ca *accessv1alpha1.ContactAccess) func() bool {
		return func() bool {
			return apierrors.IsNotFound(k8sClient.Get(suiteCtx, client.ObjectKeyFromObject(ca), &accessv1alpha1.ContactAccess{}))
		}
	}

	It("lets the object go when the contact is already gone and HostUp answers 503 'Failed to delete contact' (documented)", func() {
		ns := newNamespace()
		fake, url := startHostUp(hostupfake.WithDeleteGoneStatus(503))
		waitReady(hostupProviderConfig(ns, "hostup", url, testAPIKey))
		ca := create(ns, "gone")
		id, err := strconv.ParseInt(ca.Status.ContactID, 10, 64)
		Expect(err).NotTo(HaveOccurred())
		fake.RemoveContact(id)
		Expect(k8sClient.Delete(suiteCtx, ca)).To(Succeed())
		Eventually(gone(ca)).WithTimeout(eventuallyTO).Should(BeTrue())
	})

	It("stalls after bounded retries when HostUp keeps refusing, offering Orphan, which then lets it go", func() {
		ns := newNamespace()
		fake, url := startHostUp()
		waitReady(hostupProviderConfig(ns, "hostup", url, testAPIKey))
		ca := create(ns, "refuses")
		fake.Program("DELETE /api/teams", 1000, hostupfake.Fault{Status: 503, ContentType: "application/json",
			Body: `{"code":"SERVICE_UNAVAILABLE","error":"Service Unavailable","message":"Failed to delete contact","requestId":"r-del","timestamp":"2026-01-01T00:00:00Z"}`})
		Expect(k8sClient.Delete(suiteCtx, ca)).To(Succeed())
		Eventually(condition(ca, accessv1alpha1.TypeStalled)).WithTimeout(eventuallyTO).
			Should(haveCond(metav1.ConditionTrue, accessv1alpha1.ReasonDeleteFailed))
		Expect(condition(ca, accessv1alpha1.TypeStalled)().Message).To(ContainSubstring("Orphan"))
		calls := fake.Calls("DELETE /api/teams")
		Expect(calls).To(BeNumerically("==", 5), "bounded retries")
		Expect(k8sClient.Patch(suiteCtx, ca, client.RawPatch("application/merge-patch+json", []byte(`{"spec":{"deletionPolicy":"Orphan"}}`)))).To(Succeed())
		Eventually(gone(ca)).WithTimeout(eventuallyTO).Should(BeTrue())
		Expect(fake.Calls("DELETE /api/teams")).To(Equal(calls), "Orphan sends nothing")
	})
})

var _ = Describe("Grant rows as HostUp documents them", func() {
	It("derives states from timestamps, and reports a revoked row that disappears without re-inviting", func() {
		ns := newNamespace()
		fake, url := startHostUp(hostupfake.WithDocumentedGrantRows())
		waitReady(hostupProviderConfig(ns, "hostup", url, testAPIKey))
		dg := delegatedGrant(ns, "doc-rows", "rows@partner.example")
		Expect(k8sClient.Create(suiteCtx, dg)).To(Succeed())
		Eventually(func() accessv1alpha1.GrantState { return getDG(dg).Status.State }).WithTimeout(eventuallyTO).
			Should(Equal(accessv1alpha1.GrantPending), "a row without status and without grantee is a pending invitation")
		grants := grantsFor(fake, "rows@partner.example")
		Expect(grants).To(HaveLen(1))

		Expect(fake.AcceptGrant(grants[0].ID, "30998", "Row Partner", "row@partner.example", "Rows AB")).To(Succeed())
		Eventually(func() accessv1alpha1.GrantState { return getDG(dg).Status.State }).WithTimeout(2*shortPoll + 5*time.Second).
			Should(Equal(accessv1alpha1.GrantActive))

		Expect(fake.RevokeGrant(grants[0].ID)).To(Succeed())
		Eventually(condition(dg, accessv1alpha1.TypeStalled)).WithTimeout(2*shortPoll + 5*time.Second).
			Should(haveCond(metav1.ConditionTrue, accessv1alpha1.ReasonGrantDisappeared))
		Expect(condition(dg, accessv1alpha1.TypeStalled)().Message).To(ContainSubstring(grants[0].ID))
		Consistently(func() int { return fake.Calls("POST /api/delegated-access") }).WithTimeout(shortPoll).Should(Equal(1))
	})
})
