package controllers

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	accessv1alpha1 "github.com/contactsync/contactsync/api/v1alpha1"
	"github.com/contactsync/contactsync/internal/hostup/hostupfake"
)

// Fidelity (issue 13): the product runs against each documented or inferred shape the fakes
// can serve, not only the one they serve by default.
var _ = Describe("HostUp shapes", func() {
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
			Consistently(func() int { return hostupWrites(fake) }).WithTimeout(3 * shortPoll).WithPolling(time.Second).
				Should(Equal(writes+1), "every poll after the first write must find nothing to do")
		},
		Entry("per-item flags only (the fake's default)"),
		Entry("every covered item hasAccess:true (inferred)", hostupfake.WithAccessAllExpanded()),
	)
})
