package controllers

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	accessv1alpha1 "github.com/contactsync/contactsync/api/v1alpha1"
	"github.com/contactsync/contactsync/internal/hostup/hostupfake"
)

// controllerNamespace is the test manager's --credentials-namespace.
const controllerNamespace = "contactsync-system"

// hostupClusterProviderConfig creates a ClusterProviderConfig named like the namespace ns it is
// made for (unique per test) and its Secret in the controller's namespace; it is purged after
// the test.
func hostupClusterProviderConfig(ns, url string, spec accessv1alpha1.ClusterProviderConfigSpec) *accessv1alpha1.ClusterProviderConfig {
	GinkgoHelper()
	err := k8sClient.Create(suiteCtx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: controllerNamespace}})
	Expect(err == nil || apierrors.IsAlreadyExists(err)).To(BeTrue(), "%v", err)
	name := "platform-" + ns
	createSecret(controllerNamespace, name, map[string]string{"apiKey": testAPIKey})
	spec.HostUp = &accessv1alpha1.HostUpProvider{BaseURL: url, APIKeySecretRef: accessv1alpha1.SecretKeySelector{Name: name, Key: "apiKey"}}
	if spec.RateLimit == nil {
		spec.RateLimit = &accessv1alpha1.RateLimit{RequestsPerSecond: 100, Burst: 100}
	}
	if spec.SyncInterval == nil {
		spec.SyncInterval = &metav1.Duration{Duration: declaredPoll}
	}
	cpc := &accessv1alpha1.ClusterProviderConfig{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: spec}
	Expect(k8sClient.Create(suiteCtx, cpc)).To(Succeed())
	DeferCleanup(func() {
		ctx := context.Background()
		expectNoSecretsIn("", "")
		_ = k8sClient.Delete(ctx, cpc)
		_ = k8sClient.Patch(ctx, cpc, client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`)))
		_ = k8sClient.Delete(ctx, secretRef(controllerNamespace, name))
	})
	return cpc
}

func getCPC(cpc *accessv1alpha1.ClusterProviderConfig) *accessv1alpha1.ClusterProviderConfig {
	_ = k8sClient.Get(suiteCtx, client.ObjectKeyFromObject(cpc), cpc)
	return cpc
}

// usingCluster points obj's providerConfigRef at the ClusterProviderConfig cpc.
func usingCluster[T interface {
	*accessv1alpha1.ContactAccess | *accessv1alpha1.DelegatedGrant
}](obj T, cpc *accessv1alpha1.ClusterProviderConfig) T {
	ref := accessv1alpha1.ProviderConfigReference{Kind: accessv1alpha1.KindClusterProviderConfig, Name: cpc.Name}
	switch o := any(obj).(type) {
	case *accessv1alpha1.ContactAccess:
		o.Spec.ProviderConfigRef = ref
	case *accessv1alpha1.DelegatedGrant:
		o.Spec.ProviderConfigRef = ref
	}
	return obj
}

func labelNamespace(ns, key, value string) {
	GinkgoHelper()
	v := `"` + value + `"`
	if value == "" {
		v = "null"
	}
	Expect(k8sClient.Patch(suiteCtx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"labels":{"`+key+`":`+v+`}}}`)))).To(Succeed())
}

func gone(obj client.Object) func() bool {
	return func() bool {
		return apierrors.IsNotFound(k8sClient.Get(suiteCtx, client.ObjectKeyFromObject(obj), obj))
	}
}

var _ = Describe("ClusterProviderConfig", func() {
	It("serves the namespaces its selector allows, refuses another without a provider call, and re-evaluates when the selector or a namespace's labels change", func() {
		nsA, nsB, nsC := newNamespace(), newNamespace(), newNamespace()
		team := "team-" + nsA
		labelNamespace(nsA, "contactsync.test/team", team)
		labelNamespace(nsB, "contactsync.test/team", team)
		fake, url := startHostUp()
		thirdID := fake.AddContact(hostupfake.Contact{FirstName: "Third", LastName: "Person", Email: "third@example.com"})
		// Polls every hour (3 min in this suite): every reconcile below comes from a watch.
		cpc := hostupClusterProviderConfig(nsA, url, accessv1alpha1.ClusterProviderConfigSpec{
			NamespaceSelector:  &metav1.LabelSelector{MatchLabels: map[string]string{"contactsync.test/team": team}},
			ProviderConfigSpec: accessv1alpha1.ProviderConfigSpec{SyncInterval: &metav1.Duration{Duration: time.Hour}},
		})
		waitReady(cpc)

		a := usingCluster(hostupAccess(nsA, "anna", "", ptr(annaID), accessv1alpha1.HostUpPermissions{CanOpenTickets: true}), cpc)
		b := usingCluster(hostupAccess(nsB, "erik", "", ptr(annaID+1), accessv1alpha1.HostUpPermissions{CanViewInvoices: true}), cpc)
		Expect(k8sClient.Create(suiteCtx, a)).To(Succeed())
		Expect(k8sClient.Create(suiteCtx, b)).To(Succeed())
		waitReady(a)
		waitReady(b)
		Expect(permsOf(fake, annaID)).To(Equal(hostupfake.Permissions{CanOpenTickets: true}))
		Expect(permsOf(fake, annaID+1)).To(Equal(hostupfake.Permissions{CanViewInvoices: true}))
		Eventually(func() []string { return getCPC(cpc).Status.UsedBy }).WithTimeout(eventuallyTO).
			Should(ConsistOf("ContactAccess "+nsA+"/anna", "ContactAccess "+nsB+"/erik"))
		Expect(cpc.Status.Users).To(Equal(int32(2)))
		Expect(cpc.Finalizers).To(ContainElement(accessv1alpha1.FinalizerInUse))

		By("a namespace the selector does not allow is refused, and nothing is sent for it")
		fake.ResetCounters()
		c := usingCluster(hostupAccess(nsC, "third", "", ptr(thirdID), accessv1alpha1.HostUpPermissions{CanPlaceOrders: true}), cpc)
		Expect(k8sClient.Create(suiteCtx, c)).To(Succeed())
		Eventually(condition(c, accessv1alpha1.TypeStalled)).WithTimeout(eventuallyTO).
			Should(haveCond(metav1.ConditionTrue, accessv1alpha1.ReasonNamespaceNotAllowed))
		Expect(condition(c, accessv1alpha1.TypeReady)().Message).To(ContainSubstring(`does not allow namespace "` + nsC + `"`))
		Eventually(func() []string { return eventReasons(c) }).WithTimeout(eventuallyTO).Should(ContainElement(accessv1alpha1.ReasonNamespaceNotAllowed), "events are sent asynchronously")
		Consistently(func() map[string]int { return fake.Counts() }).WithTimeout(time.Second).Should(BeEmpty(), "no provider call")

		By("allowing the namespace by name wakes the refused object (a watch, not a poll)")
		Expect(k8sClient.Patch(suiteCtx, cpc, client.RawPatch(types.MergePatchType, []byte(`{"spec":{"namespaces":["`+nsC+`"]}}`)))).To(Succeed())
		waitReady(c)
		Expect(permsOf(fake, thirdID)).To(Equal(hostupfake.Permissions{CanPlaceOrders: true}))

		By("a namespace whose labels no longer match is refused from then on")
		labelNamespace(nsB, "contactsync.test/team", "")
		Eventually(condition(b, accessv1alpha1.TypeStalled)).WithTimeout(eventuallyTO).
			Should(haveCond(metav1.ConditionTrue, accessv1alpha1.ReasonNamespaceNotAllowed))

		By("deleting the ClusterProviderConfig waits for its users, whose Revoke runs first")
		Expect(k8sClient.Delete(suiteCtx, cpc)).To(Succeed())
		Eventually(func() string {
			r := findCond(getCPC(cpc).Status.Conditions, accessv1alpha1.TypeReconciling)
			return r.Reason + ": " + r.Message
		}).WithTimeout(eventuallyTO).Should(And(HavePrefix(accessv1alpha1.ReasonInUse+": "), ContainSubstring("3 object(s)"), ContainSubstring("ContactAccess "+nsA+"/anna")))
		Expect(k8sClient.Delete(suiteCtx, a)).To(Succeed())
		Expect(k8sClient.Delete(suiteCtx, c)).To(Succeed())
		Eventually(gone(a)).WithTimeout(eventuallyTO).Should(BeTrue())
		Eventually(gone(c)).WithTimeout(eventuallyTO).Should(BeTrue())
		Expect(permsOf(fake, annaID)).To(Equal(hostupfake.Permissions{}))
		Expect(permsOf(fake, thirdID)).To(Equal(hostupfake.Permissions{}))
		Eventually(func() int32 { return getCPC(cpc).Status.Users }).WithTimeout(eventuallyTO).Should(Equal(int32(1)))
		Expect(gone(cpc)()).To(BeFalse(), "the refused namespace's object still uses it")
		// Its namespace is refused, so its Revoke cannot run: a person lets it go with Orphan.
		Expect(k8sClient.Delete(suiteCtx, b)).To(Succeed())
		Expect(k8sClient.Patch(suiteCtx, b, client.RawPatch(types.MergePatchType, []byte(`{"spec":{"deletionPolicy":"Orphan"}}`)))).To(Succeed())
		Eventually(gone(cpc)).WithTimeout(eventuallyTO).Should(BeTrue())
		Expect(permsOf(fake, annaID+1)).To(Equal(hostupfake.Permissions{CanViewInvoices: true}), "Orphan left it")
	})

	It("shares one connection with a ProviderConfig of the same account: one grant list per poll period, not two", func() {
		nsA, nsB := newNamespace(), newNamespace()
		fake, url := startHostUp()
		pc := hostupProviderConfig(nsA, "hostup", url, testAPIKey)
		cpc := hostupClusterProviderConfig(nsA, url, accessv1alpha1.ClusterProviderConfigSpec{Namespaces: []string{nsB}})
		waitReady(pc)
		waitReady(cpc)
		viaPC := delegatedGrant(nsA, "via-pc", "via-pc@example.com")
		viaCPC := usingCluster(delegatedGrant(nsB, "via-cpc", "via-cpc@example.com"), cpc)
		Expect(k8sClient.Create(suiteCtx, viaPC)).To(Succeed())
		Expect(k8sClient.Create(suiteCtx, viaCPC)).To(Succeed())
		waitReady(viaPC)
		waitReady(viaCPC)

		fake.ResetCounters()
		const periods = 10
		time.Sleep(periods * shortPoll)
		lists := fake.Calls("GET /api/delegated-access")
		GinkgoWriter.Printf("%d grant list calls in %d poll periods (two DelegatedGrants and two audits, one account)\n", lists, periods)
		Expect(lists).To(BeNumerically(">=", 1), "the account is polled")
		// One shared list: about one call per period (at most periods+1). A connection per config
		// would list about twice per period.
		Expect(lists).To(BeNumerically("<=", periods+2), "one grant list per poll period for the account")

		By("each audit counts the grants declared through the other config of the account as declared")
		undeclared := func(st accessv1alpha1.ProviderConfigStatus) []string {
			var ids []string
			for _, g := range st.UndeclaredGrants {
				ids = append(ids, g.ID)
			}
			return ids
		}
		Expect(getDG(viaPC).Status.GrantID).NotTo(BeEmpty())
		Expect(getDG(viaCPC).Status.GrantID).NotTo(BeEmpty())
		Eventually(func() []string { return undeclared(getPC(pc).Status) }).WithTimeout(eventuallyTO).ShouldNot(ContainElement(viaCPC.Status.GrantID))
		Eventually(func() []string { return undeclared(getCPC(cpc).Status) }).WithTimeout(eventuallyTO).ShouldNot(ContainElement(viaPC.Status.GrantID))
		Expect(undeclared(getPC(pc).Status)).NotTo(ContainElement(viaPC.Status.GrantID))
	})
})

var _ = Describe("ClusterProviderConfig credentials", func() {
	It("reads its Secret from the controller's namespace only when it opts in, and re-verifies when it does", func() {
		ns := newNamespace()
		fake, url := startHostUp()
		cpc := hostupClusterProviderConfig(ns, url, accessv1alpha1.ClusterProviderConfigSpec{Namespaces: []string{ns}})
		waitReady(cpc)
		Expect(k8sClient.Patch(suiteCtx, secretRef(controllerNamespace, cpc.Name), client.RawPatch(types.MergePatchType,
			[]byte(`{"metadata":{"labels":{"`+accessv1alpha1.LabelCredentials+`":null}}}`)))).To(Succeed())
		Eventually(condition(cpc, accessv1alpha1.TypeStalled)).WithTimeout(eventuallyTO).
			Should(haveCond(metav1.ConditionTrue, accessv1alpha1.ReasonSecretNotLabeled))
		Expect(condition(cpc, accessv1alpha1.TypeStalled)().Message).To(ContainSubstring(`in namespace "` + controllerNamespace + `"`))

		By("a Secret of the same name in an allowed namespace is not used instead, and nothing is sent")
		createSecret(ns, cpc.Name, map[string]string{"apiKey": testAPIKey})
		fake.ResetCounters()
		Consistently(func() map[string]int { return fake.Counts() }).WithTimeout(shortPoll + time.Second).Should(BeEmpty())
		Expect(condition(cpc, accessv1alpha1.TypeStalled)()).To(haveCond(metav1.ConditionTrue, accessv1alpha1.ReasonSecretNotLabeled))

		By("opting the Secret in re-verifies at once (the Secret is watched)")
		Expect(k8sClient.Patch(suiteCtx, secretRef(controllerNamespace, cpc.Name), client.RawPatch(types.MergePatchType,
			[]byte(`{"metadata":{"labels":{"`+accessv1alpha1.LabelCredentials+`":"true"}}}`)))).To(Succeed())
		waitReady(cpc)
	})
})

var _ = Describe("ProviderConfig in use", func() {
	It("is kept until its users are gone, says why, and lets their Revoke run first even when its Secret went first", func() {
		ns := newNamespace()
		fake, url := startHostUp()
		pc := hostupProviderConfig(ns, "hostup", url, testAPIKey)
		waitReady(pc)
		ca := hostupAccess(ns, "anna", "hostup", ptr(annaID), accessv1alpha1.HostUpPermissions{CanOpenTickets: true, CanViewInvoices: true})
		Expect(k8sClient.Create(suiteCtx, ca)).To(Succeed())
		waitReady(ca)
		Expect(permsOf(fake, annaID)).To(Equal(hostupfake.Permissions{CanOpenTickets: true, CanViewInvoices: true}))
		Eventually(func() []string { return getPC(pc).Status.UsedBy }).WithTimeout(eventuallyTO).Should(Equal([]string{"ContactAccess " + ns + "/anna"}))
		Expect(pc.Status.Users).To(Equal(int32(1)))
		Expect(pc.Finalizers).To(ContainElement(accessv1alpha1.FinalizerInUse))

		By("deleting the ProviderConfig first waits, with a condition and an event saying why")
		Expect(k8sClient.Delete(suiteCtx, pc)).To(Succeed())
		Eventually(condition(pc, accessv1alpha1.TypeReconciling)).WithTimeout(eventuallyTO).Should(haveCond(metav1.ConditionTrue, accessv1alpha1.ReasonInUse))
		Expect(condition(pc, accessv1alpha1.TypeReconciling)().Message).To(ContainSubstring("ContactAccess " + ns + "/anna"))
		Eventually(func() []string { return eventReasons(pc) }).WithTimeout(eventuallyTO).Should(ContainElement(accessv1alpha1.ReasonInUse), "events are sent asynchronously")
		Expect(gone(pc)()).To(BeFalse())

		By("deleting the Secret and the ContactAccess as `kubectl delete -f dir/` would: Revoke runs, then the ProviderConfig goes")
		Expect(k8sClient.Delete(suiteCtx, secretRef(ns, "hostup-key"))).To(Succeed())
		Expect(k8sClient.Delete(suiteCtx, ca)).To(Succeed())
		Eventually(gone(pc)).WithTimeout(eventuallyTO).Should(BeTrue())
		Expect(gone(ca)()).To(BeTrue())
		Expect(permsOf(fake, annaID)).To(Equal(hostupfake.Permissions{}), "the rights were removed before the config went")
	})
})

func findCond(conds []metav1.Condition, t string) metav1.Condition {
	for _, c := range conds {
		if c.Type == t {
			return c
		}
	}
	return metav1.Condition{}
}

// permsOf is the contact's permissions in the fake (zero when it has none).
func permsOf(fake *hostupfake.Server, id int64) hostupfake.Permissions {
	p, _ := fake.ContactPermissions(id)
	return p
}

var _ = Describe("ClusterProviderConfig admission", func() {
	const cpcHead = `
apiVersion: access.contactsync.dev/v1alpha1
kind: ClusterProviderConfig
metadata: {name: bad-cpc}
spec:
`
	DescribeTable("rejects invalid ClusterProviderConfigs and references with a clear message",
		func(doc, wantMessage string) {
			obj := decodeYAML(doc)
			if obj.GetObjectKind().GroupVersionKind().Kind != accessv1alpha1.KindClusterProviderConfig {
				obj.SetNamespace(newNamespace())
			}
			err := k8sClient.Create(suiteCtx, obj)
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "want an Invalid error, got %v", err)
			Expect(err.Error()).To(ContainSubstring(wantMessage))
		},
		Entry("no namespace allowed", cpcHead+`
  hostup: {apiKeySecretRef: {name: s, key: k}}`,
			"set spec.namespaceSelector and/or spec.namespaces"),
		Entry("an empty namespace list", cpcHead+`
  namespaces: []
  hostup: {apiKeySecretRef: {name: s, key: k}}`,
			"set spec.namespaceSelector and/or spec.namespaces"),
		Entry("both providers", cpcHead+`
  namespaceSelector: {}
  hostup: {apiKeySecretRef: {name: s, key: k}}
  onlyoffice: {baseURL: "https://o.example", credentialsSecretRef: {name: s}}`,
			"exactly one of spec.hostup or spec.onlyoffice must be set"),
		Entry("a credentials namespace that is not a namespace name", cpcHead+`
  namespaceSelector: {}
  credentialsNamespace: "Vault/Secrets"
  hostup: {apiKeySecretRef: {name: s, key: k}}`,
			"spec.credentialsNamespace: Invalid value"),
		Entry("a tiny sync interval", cpcHead+`
  namespaceSelector: {}
  hostup: {apiKeySecretRef: {name: s, key: k}}
  syncInterval: 1s`,
			"syncInterval must be a duration such as 90s, 10m or 1h30m, between 5s and 24h"),
		Entry("a reference of an unknown kind", `
apiVersion: access.contactsync.dev/v1alpha1
kind: ContactAccess
metadata: {name: bad}
spec:
  providerConfigRef: {kind: Secret, name: hostup}
  hostup: {contact: {id: 5}}`,
			`spec.providerConfigRef.kind: Unsupported value: "Secret"`),
	)

	It("accepts existing YAML unchanged, and keeps the reference's kind immutable", func() {
		ns := newNamespace()
		existing := decodeYAML(`
apiVersion: access.contactsync.dev/v1alpha1
kind: ContactAccess
metadata: {name: existing}
spec:
  providerConfigRef: {name: hostup}
  hostup: {contact: {id: 5}}`).(*accessv1alpha1.ContactAccess)
		existing.Namespace = ns
		Expect(k8sClient.Create(suiteCtx, existing)).To(Succeed())
		Expect(existing.Spec.ProviderConfigRef.Kind).To(BeEmpty(), "no default is written into existing objects")
		patch := func(kind string) error {
			return k8sClient.Patch(suiteCtx, existing, client.RawPatch(types.MergePatchType, []byte(`{"spec":{"providerConfigRef":{"kind":"`+kind+`"}}}`)))
		}
		Expect(patch(accessv1alpha1.KindProviderConfig)).To(Succeed(), "spelling out the default is no change")
		err := patch(accessv1alpha1.KindClusterProviderConfig)
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "%v", err)
		Expect(err.Error()).To(ContainSubstring("providerConfigRef.kind is immutable"))
	})
})
