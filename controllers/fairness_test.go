package controllers

import (
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	accessv1alpha1 "github.com/contactsync/contactsync/api/v1alpha1"
	"github.com/contactsync/contactsync/internal/hostup/hostupfake"
)

func totalCalls(f *hostupfake.Server) int {
	n := 0
	for _, v := range f.Counts() {
		n += v
	}
	return n
}

var _ = Describe("Fairness between accounts", func() {
	It("an account that answers Retry-After: 3600 holds no worker: the other account's objects converge, and nobody retries into the wall", func() {
		ns := newNamespace()
		broken, brokenURL := startHostUp()
		healthy, healthyURL := startHostUp()
		bpc := hostupProviderConfig(ns, "broken", brokenURL, testAPIKey)
		hpc := hostupProviderConfig(ns, "healthy", healthyURL, testAPIKey)
		waitReady(bpc)
		waitReady(hpc)

		broken.Program("*", 1<<30, hostupfake.Fault{Status: 429, RetryAfter: "3600"})
		before := totalCalls(broken)
		// Twice as many objects of the broken account as the test manager has workers (4): if a
		// reconcile waited in a paused limiter, every worker would wait for an hour.
		perms := accessv1alpha1.HostUpPermissions{CanViewInvoices: true}
		var stuck []*accessv1alpha1.ContactAccess
		for i := range 8 {
			ca := hostupAccess(ns, fmt.Sprintf("broken-%d", i), "broken", ptr(annaID), perms)
			Expect(k8sClient.Create(suiteCtx, ca)).To(Succeed())
			stuck = append(stuck, ca)
		}
		for _, ca := range stuck {
			Eventually(condition(ca, accessv1alpha1.TypeSynced)).Should(haveCond(metav1.ConditionFalse, accessv1alpha1.ReasonRateLimited),
				"an object of the paused account says so")
		}

		ok := hostupAccess(ns, "healthy", "healthy", ptr(annaID), accessv1alpha1.HostUpPermissions{
			Services: []accessv1alpha1.ResourceRef{{Name: "VPS M"}}, CanViewInvoices: true})
		start := time.Now()
		Expect(k8sClient.Create(suiteCtx, ok)).To(Succeed())
		waitReady(ok)
		Expect(healthy.Writes()).To(BeNumerically(">=", 1), "the healthy account was written")
		GinkgoWriter.Printf("healthy object Ready %s after its create, beside 8 objects of a paused account\n", time.Since(start))

		// The first answer said Retry-After: 3600; from then on the client kept every call of the
		// account back (eight objects, the ProviderConfig's checks, many polls). At most the calls
		// already in flight when that answer came (one per worker, and the ProviderConfig's check)
		// reached the server.
		Consistently(func() int { return totalCalls(broken) - before }).WithTimeout(4*shortPoll).Should(BeNumerically("<=", 5),
			"nothing retried into the wall")
	})
})
