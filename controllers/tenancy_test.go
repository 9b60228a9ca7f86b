package controllers

import (
	"net/http"
	"strconv"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	accessv1alpha1 "github.com/contactsync/contactsync/api/v1alpha1"
)

// Tenant safety (issue 14): credentials are read only from Secrets that opt in, and go only to
// endpoints the manager allows.
var _ = Describe("Tenant safety", func() {
	It("never reads a Secret without the opt-in label, says which label to add, and caches only labelled Secrets", func() {
		ns := newNamespace()
		fake, url := startHostUp()
		plain := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "plain"}, StringData: map[string]string{"apiKey": testAPIKey}}
		Expect(k8sClient.Create(suiteCtx, plain)).To(Succeed())
		pc := hostupProviderConfig(ns, "hostup", url, "")
		Expect(k8sClient.Patch(suiteCtx, pc, client.RawPatch("application/merge-patch+json",
			[]byte(`{"spec":{"hostup":{"apiKeySecretRef":{"name":"plain"}}}}`)))).To(Succeed())
		Eventually(condition(pc, accessv1alpha1.TypeStalled)).WithTimeout(eventuallyTO).
			Should(haveCond(metav1.ConditionTrue, accessv1alpha1.ReasonSecretNotLabeled))
		Expect(condition(pc, accessv1alpha1.TypeStalled)().Message).To(ContainSubstring(accessv1alpha1.LabelCredentials + `: "true"`))
		total := 0
		for _, n := range fake.Counts() {
			total += n
		}
		Expect(total).To(BeZero(), "no request left with the unlabelled Secret's value")

		By("the manager's cache holds only labelled Secrets")
		cached := &corev1.SecretList{}
		Expect(mgrCache.List(suiteCtx, cached)).To(Succeed())
		all := &corev1.SecretList{}
		Expect(k8sClient.List(suiteCtx, all)).To(Succeed())
		Expect(len(cached.Items)).To(BeNumerically("<", len(all.Items)))
		for _, s := range cached.Items {
			Expect(s.Labels).To(HaveKeyWithValue(accessv1alpha1.LabelCredentials, "true"), "cached %s/%s", s.Namespace, s.Name)
		}

		By("opting the Secret in makes the ProviderConfig Ready")
		Expect(k8sClient.Patch(suiteCtx, plain, client.RawPatch("application/merge-patch+json",
			[]byte(`{"metadata":{"labels":{"`+accessv1alpha1.LabelCredentials+`":"true"}}}`)))).To(Succeed())
		waitReady(pc)
	})

	It("never writes an invite token into an existing Secret it does not control", func() {
		ns := newNamespace()
		fake, url := startHostUp()
		waitReady(hostupProviderConfig(ns, "hostup", url, testAPIKey))
		dg := delegatedGrant(ns, "takeover", "takeover@example.com")
		dg.Spec.InviteTokenSecretRef = &accessv1alpha1.SecretReference{Name: "hostup-key"} // the API-key Secret
		Expect(k8sClient.Create(suiteCtx, dg)).To(Succeed())
		Eventually(condition(dg, accessv1alpha1.TypeStalled)).WithTimeout(eventuallyTO).
			Should(haveCond(metav1.ConditionTrue, accessv1alpha1.ReasonInvalidSpec))
		Expect(condition(dg, accessv1alpha1.TypeStalled)().Message).To(ContainSubstring("not controlled by this DelegatedGrant"))
		Expect(fake.Calls("POST /api/delegated-access")).To(BeZero(), "nothing was sent")
		victim := &corev1.Secret{}
		Expect(k8sClient.Get(suiteCtx, client.ObjectKey{Namespace: ns, Name: "hostup-key"}, victim)).To(Succeed())
		Expect(victim.OwnerReferences).To(BeEmpty())
		Expect(victim.Data).NotTo(HaveKey("inviteToken"))
	})

	It("bounds status.undeclaredGrants and counts them all", func() {
		ns := newNamespace()
		fake, url := startHostUp()
		before := len(fake.Grants())
		for i := range accessv1alpha1.MaxUndeclaredGrants + 10 {
			req, _ := http.NewRequest(http.MethodPost, url+"/delegated-access",
				strings.NewReader(`{"email":"u`+strconv.Itoa(i)+`@example.com","label":"x"}`))
			req.Header.Set("X-API-Key", testAPIKey)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			Expect(err).NotTo(HaveOccurred())
			_ = resp.Body.Close()
		}
		pc := hostupProviderConfig(ns, "hostup", url, testAPIKey)
		Eventually(func() int32 {
			_ = k8sClient.Get(suiteCtx, client.ObjectKeyFromObject(pc), pc)
			return pc.Status.UndeclaredGrantsTotal
		}).WithTimeout(eventuallyTO).Should(BeNumerically(">=", int32(accessv1alpha1.MaxUndeclaredGrants+10)))
		Expect(pc.Status.UndeclaredGrants).To(HaveLen(accessv1alpha1.MaxUndeclaredGrants))
		Expect(int(pc.Status.UndeclaredGrantsTotal)).To(BeNumerically("<=", before+accessv1alpha1.MaxUndeclaredGrants+10))
	})

	DescribeTable("refuses endpoints credentials must not go to, and sends nothing",
		func(baseURL, says string) {
			ns := newNamespace()
			pc := hostupProviderConfig(ns, "hostup", baseURL, testAPIKey)
			Eventually(condition(pc, accessv1alpha1.TypeStalled)).WithTimeout(eventuallyTO).
				Should(haveCond(metav1.ConditionTrue, accessv1alpha1.ReasonEndpointRefused))
			Expect(condition(pc, accessv1alpha1.TypeStalled)().Message).To(ContainSubstring(says))
		},
		Entry("the cloud metadata address", "http://169.254.169.254/latest", "metadata"),
		Entry("a host outside the allow-list", "https://collector.example.com/api", "allow-list"),
	)
})
