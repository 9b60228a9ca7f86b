package controllers

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	accessv1alpha1 "github.com/contactsync/contactsync/api/v1alpha1"
	"github.com/contactsync/contactsync/internal/hostup/hostupfake"
)

var _ = Describe("Bad API responses", func() {
	DescribeTable("give a typed error and a condition, keep the last good status whole, and recover",
		func(f hostupfake.Fault, wantMessage string) {
			ns := newNamespace()
			fake, url := startHostUp()
			waitReady(hostupProviderConfig(ns, "hostup", url, testAPIKey))
			ca := hostupAccess(ns, "anna", "hostup", ptr(annaID), accessv1alpha1.HostUpPermissions{CanOpenTickets: true})
			Expect(k8sClient.Create(suiteCtx, ca)).To(Succeed())
			waitReady(ca)
			observed := ca.Status.Observed.DeepCopy()

			fake.Program("GET /api/contacts/{id}/permissions", 3, f)
			Eventually(condition(ca, accessv1alpha1.TypeSynced)).WithTimeout(2*shortPoll + 5*time.Second).WithPolling(100 * time.Millisecond).
				Should(And(haveCond(metav1.ConditionFalse, accessv1alpha1.ReasonAPIError), HaveField("Message", ContainSubstring(wantMessage))))
			Expect(ca.Status.Observed).To(Equal(observed), "no half-read state in status")
			Expect(condition(ca, accessv1alpha1.TypeReady)().Status).To(Equal(metav1.ConditionTrue), "a transient error does not flip Ready")
			Eventually(condition(ca, accessv1alpha1.TypeSynced)).WithTimeout(eventuallyTO).
				Should(haveCond(metav1.ConditionTrue, accessv1alpha1.ReasonReconcileSuccess))
		},
		Entry("malformed JSON", hostupfake.Fault{Malformed: true}, "undecodable HTTP 200"),
		Entry("truncated body", hostupfake.Fault{Truncate: true}, "undecodable HTTP 200"),
		Entry("an HTML error page", hostupfake.Fault{Status: 502, Body: "<html><body><h1>502 Bad Gateway</h1></body></html>", ContentType: "text/html"}, "HTTP 502"),
		Entry("a dropped connection", hostupfake.Fault{Drop: true}, "cannot get contact permissions"),
	)
})
