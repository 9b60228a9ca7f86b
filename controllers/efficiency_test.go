package controllers

import (
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	accessv1alpha1 "github.com/contactsync/contactsync/api/v1alpha1"
	oo "github.com/contactsync/contactsync/internal/onlyoffice/onlyofficefake"
)

var _ = Describe("API efficiency", func() {
	It("coalesces identical ONLYOFFICE access into bulk writes on a busy account, each contact verified by read", func() {
		ns := newNamespace()
		fake, url := startOnlyOffice()
		pc := onlyofficeProviderConfig(ns, "onlyoffice", url, oo.DemoAdminEmail, oo.DemoAdminPassword)
		waitReady(pc)
		// A pace the 16 objects' reads and writes keep busy (about 48 calls at 20/s): writes then
		// wait for company (on an idle account each goes at once, see the unit tests).
		orig := pc.DeepCopy()
		pc.Spec.RateLimit = &accessv1alpha1.RateLimit{RequestsPerSecond: 20, Burst: 1}
		// Polls of the converged objects would take the budget the others need (the suite polls
		// every declared interval / timeDivisor).
		pc.Spec.SyncInterval = &metav1.Duration{Duration: time.Minute}
		Expect(k8sClient.Patch(suiteCtx, pc, client.MergeFrom(orig))).To(Succeed())
		waitReady(pc)
		const n = 16
		var ids []int64
		for i := range n {
			ids = append(ids, fake.AddContact(oo.Contact{ID: 500 + int64(i), FirstName: "Bulk", LastName: itoa(int64(i)), ShareType: 1}))
		}
		fake.ResetCounts()
		var objs []*accessv1alpha1.ContactAccess
		for _, id := range ids {
			ca := onlyofficeAccess(ns, "bulk-"+itoa(id), id, false, accessv1alpha1.ManagerRef{Email: "alice@demo.example.com"})
			Expect(k8sClient.Create(suiteCtx, ca)).To(Succeed())
			objs = append(objs, ca)
		}
		for _, ca := range objs {
			waitReady(ca)
		}
		for _, id := range ids {
			c, _ := fake.Contact(id)
			Expect(c.ShareType).To(Equal(0))
			Expect(c.ACL).To(ConsistOf(oo.DemoAliceID))
		}
		bulk, single := fake.Calls(http.MethodPut, oo.RouteContactsAccess), fake.Calls(http.MethodPut, oo.RouteContactAccess)
		GinkgoWriter.Printf("%d contacts with one access set: %d bulk + %d single writes\n", n, bulk, single)
		Expect(bulk).To(BeNumerically(">=", 1))
		// Batches are bounded by the reconciles running at once (4 in this suite) and by how they
		// happen to line up on a loaded machine; the exact K×ceil(N/chunk) is the unit test's.
		Expect(bulk+single).To(BeNumerically("<=", n/2), "coalesced, not one write per contact")
		Expect(fake.Calls(http.MethodGet, oo.RouteContact)).To(BeNumerically(">=", 2*n), "each contact read before and after")
	})

	It("makes zero writes when the manager restarts with nothing drifted", func() {
		ns := newNamespace()
		hu, huURL := startHostUp()
		off, ooURL := startOnlyOffice()
		waitReady(hostupProviderConfig(ns, "hostup", huURL, testAPIKey))
		waitReady(onlyofficeProviderConfig(ns, "onlyoffice", ooURL, oo.DemoAdminEmail, oo.DemoAdminPassword))
		objs := []client.Object{
			hostupAccess(ns, "anna", "hostup", ptr(annaID), accessv1alpha1.HostUpPermissions{CanOpenTickets: true}),
			hostupAccess(ns, "erik", "hostup", ptr(annaID+1), accessv1alpha1.HostUpPermissions{CanViewInvoices: true}),
			onlyofficeAccess(ns, "ada", oo.DemoContactAda, false, accessv1alpha1.ManagerRef{Email: "bob@demo.example.com"}),
			onlyofficeAccess(ns, "grace", oo.DemoContactGrace, true),
			delegatedGrant(ns, "partner", "partner@example.com"),
		}
		for _, o := range objs {
			Expect(k8sClient.Create(suiteCtx, o)).To(Succeed())
		}
		for _, o := range objs {
			waitReady(o)
		}
		hu.ResetCounters()
		off.ResetCounts()

		restartManager()
		Eventually(func() int { return hu.Calls("GET /api/contacts/{id}/permissions") }).WithTimeout(eventuallyTO).Should(BeNumerically(">=", 2))
		Eventually(func() int { return off.Calls(http.MethodGet, oo.RouteContact) }).WithTimeout(eventuallyTO).Should(BeNumerically(">=", 2))
		Consistently(func() int { return hostupWrites(hu) + ooWrites(off) }).WithTimeout(shortPoll + 2*time.Second).Should(BeZero())
		for _, o := range objs {
			waitReady(o)
		}
	})
})
