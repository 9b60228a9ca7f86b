package controllers

import (
	"encoding/json"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	accessv1alpha1 "github.com/contactsync/contactsync/api/v1alpha1"
	"github.com/contactsync/contactsync/internal/external/hostupgrant"
	"github.com/contactsync/contactsync/internal/hostup/hostupfake"
	"github.com/contactsync/contactsync/internal/reconciler"
)

func delegatedGrant(ns, name, email string) *accessv1alpha1.DelegatedGrant {
	return &accessv1alpha1.DelegatedGrant{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: accessv1alpha1.DelegatedGrantSpec{
			ProviderConfigRef: accessv1alpha1.ProviderConfigReference{Name: "hostup"},
			Email:             email,
			Label:             "test " + name,
		},
	}
}

func getDG(dg *accessv1alpha1.DelegatedGrant) *accessv1alpha1.DelegatedGrant {
	_ = k8sClient.Get(suiteCtx, client.ObjectKeyFromObject(dg), dg)
	return dg
}

func grantsFor(fake *hostupfake.Server, email string) []hostupfake.Grant {
	var out []hostupfake.Grant
	for _, g := range fake.Grants() {
		if strings.EqualFold(g.InviteEmail, email) {
			out = append(out, g)
		}
	}
	return out
}

var _ = Describe("DelegatedGrant", func() {
	var (
		ns   string
		fake *hostupfake.Server
		pc   *accessv1alpha1.ProviderConfig
	)
	setup := func(opts ...hostupfake.Option) {
		ns = newNamespace()
		var url string
		fake, url = startHostUp(opts...)
		pc = hostupProviderConfig(ns, "hostup", url, testAPIKey)
		waitReady(pc)
	}

	It("shows every state transition, keeps the token out of status, events and logs, and audits undeclared grants", func() {
		setup()
		dg := delegatedGrant(ns, "partner", "ops@partner.example")
		dg.Spec.InviteTokenSecretRef = &accessv1alpha1.SecretReference{Name: "partner-invite"}
		Expect(k8sClient.Create(suiteCtx, dg)).To(Succeed())
		Eventually(func() accessv1alpha1.GrantState { return getDG(dg).Status.State }).WithTimeout(eventuallyTO).
			Should(Equal(accessv1alpha1.GrantPending))
		waitReady(dg)
		Expect(condition(dg, accessv1alpha1.TypeReady)().Reason).To(Equal(accessv1alpha1.ReasonInvitePending))
		Expect(dg.Status.InviteExpiresAt).NotTo(BeNil())
		Expect(kstatusOf(dg)).To(Equal(status.CurrentStatus))
		grants := grantsFor(fake, "ops@partner.example")
		Expect(grants).To(HaveLen(1))
		Expect(dg.Status.GrantID).To(Equal(grants[0].ID))
		token := grants[0].InviteToken
		Expect(token).NotTo(BeEmpty())

		By("the token is in the requested Secret, and nowhere else")
		secret := &corev1.Secret{}
		Eventually(func() error {
			return k8sClient.Get(suiteCtx, client.ObjectKey{Namespace: ns, Name: "partner-invite"}, secret)
		}).Should(Succeed())
		Expect(string(secret.Data["inviteToken"])).To(Equal(token))

		By("accepted → Active with grantee and permissions")
		Expect(fake.AcceptGrant(grants[0].ID, "30999", "Per Partner", "per@partner.example", "Partner AB")).To(Succeed())
		Eventually(func() accessv1alpha1.GrantState { return getDG(dg).Status.State }).WithTimeout(2*shortPoll + 5*time.Second).
			Should(Equal(accessv1alpha1.GrantActive))
		Expect(dg.Status.Grantee).To(Equal(&accessv1alpha1.Grantee{ClientID: "30999", Name: "Per Partner", Email: "per@partner.example", Company: "Partner AB"}))
		Expect(dg.Status.AcceptedAt).NotTo(BeNil())
		Expect(dg.Status.Permissions).NotTo(BeNil())
		Expect(condition(dg, accessv1alpha1.TypeReady)().Reason).To(Equal(accessv1alpha1.ReasonAvailable))

		By("the audit lists the demo account's consultant grant, which nothing declares, and not ours")
		Eventually(func() []accessv1alpha1.UndeclaredGrant {
			_ = k8sClient.Get(suiteCtx, client.ObjectKeyFromObject(pc), pc)
			return pc.Status.UndeclaredGrants
		}).WithTimeout(2*shortPoll + 5*time.Second).Should(ConsistOf(
			HaveField("Email", "karin@consult.example")))

		By("revoked in the dashboard → Revoked, stalled, never re-invited behind a person's back")
		Expect(fake.RevokeGrant(grants[0].ID)).To(Succeed())
		Eventually(func() accessv1alpha1.GrantState { return getDG(dg).Status.State }).WithTimeout(2*shortPoll + 5*time.Second).
			Should(Equal(accessv1alpha1.GrantRevoked))
		Expect(condition(dg, accessv1alpha1.TypeStalled)()).To(haveCond(metav1.ConditionTrue, accessv1alpha1.ReasonGrantRevoked))
		Expect(kstatusOf(dg)).To(Equal(status.FailedStatus))
		Consistently(func() int { return len(fake.Grants()) }).WithTimeout(shortPoll).Should(Equal(2),
			"the demo grant and ours; nothing re-invited (an accepted grant's invite_email is null, as in HostUp's example)")

		By("no status, event or log line holds the token")
		raw, err := json.Marshal(getDG(dg))
		Expect(err).NotTo(HaveOccurred())
		Expect(string(raw)).NotTo(ContainSubstring(token))
		evs := &eventsv1.EventList{}
		Expect(k8sClient.List(suiteCtx, evs, client.InNamespace(ns))).To(Succeed())
		rawEvents, _ := json.Marshal(evs)
		Expect(string(rawEvents)).NotTo(ContainSubstring(token))
		Expect(capturedLogs.String()).NotTo(ContainSubstring(token))
		Expect(capturedLogs.String()).To(ContainSubstring("partner"), "the log capture works")
	})

	It("expires by the clock and re-invites when asked", func() {
		setup(hostupfake.WithInviteTTL(2 * time.Second))
		once := delegatedGrant(ns, "once", "once@example.com")
		again := delegatedGrant(ns, "again", "again@example.com")
		again.Spec.ReinviteOnExpiry = true
		Expect(k8sClient.Create(suiteCtx, once)).To(Succeed())
		Expect(k8sClient.Create(suiteCtx, again)).To(Succeed())

		Eventually(func() accessv1alpha1.GrantState { return getDG(once).Status.State }).WithTimeout(eventuallyTO).
			Should(Equal(accessv1alpha1.GrantExpired))
		Expect(condition(once, accessv1alpha1.TypeStalled)()).To(haveCond(metav1.ConditionTrue, accessv1alpha1.ReasonInviteExpired))
		Expect(grantsFor(fake, "once@example.com")).To(HaveLen(1))

		Eventually(func() int { return len(grantsFor(fake, "again@example.com")) }).WithTimeout(eventuallyTO).Should(Equal(2))
		Eventually(func() []string { return eventReasons(again) }).Should(ContainElement(hostupgrant.EventReinvited))
		Eventually(func() string { return getDG(again).Status.GrantID }).WithTimeout(eventuallyTO).
			Should(Equal(grantsFor(fake, "again@example.com")[1].ID))
	})

	It("never claims a revocation it did not make, and lets Orphan go", func() {
		setup()
		revoke := delegatedGrant(ns, "revoke", "r@example.com")
		orphan := delegatedGrant(ns, "orphan", "o@example.com")
		orphan.Spec.DeletionPolicy = accessv1alpha1.GrantDeletionOrphan
		Expect(k8sClient.Create(suiteCtx, revoke)).To(Succeed())
		Expect(k8sClient.Create(suiteCtx, orphan)).To(Succeed())
		waitReady(revoke)
		waitReady(orphan)
		id := revoke.Status.GrantID

		Expect(k8sClient.Delete(suiteCtx, orphan)).To(Succeed())
		Expect(k8sClient.Delete(suiteCtx, revoke)).To(Succeed())
		Eventually(func() error { return k8sClient.Get(suiteCtx, client.ObjectKeyFromObject(orphan), orphan) }).
			WithTimeout(eventuallyTO).ShouldNot(Succeed())
		Expect(grantsFor(fake, "o@example.com")).To(HaveLen(1))

		Eventually(condition(revoke, accessv1alpha1.TypeStalled)).WithTimeout(eventuallyTO).
			Should(haveCond(metav1.ConditionTrue, accessv1alpha1.ReasonRevocationRequiresDashboard))
		Expect(condition(revoke, accessv1alpha1.TypeStalled)().Message).To(ContainSubstring(id))
		Eventually(func() []string { return eventNotes(revoke) }).Should(ContainElement(
			SatisfyAll(ContainSubstring(accessv1alpha1.ReasonRevocationRequiresDashboard), ContainSubstring(id))))
		Consistently(func() error { return k8sClient.Get(suiteCtx, client.ObjectKeyFromObject(revoke), revoke) }).
			WithTimeout(shortPoll).Should(Succeed(), "the object stays until the grant is revoked")

		Expect(fake.RevokeGrant(id)).To(Succeed())
		Eventually(func() error { return k8sClient.Get(suiteCtx, client.ObjectKeyFromObject(revoke), revoke) }).
			WithTimeout(2*shortPoll + 5*time.Second).ShouldNot(Succeed())
	})

	It("with the DELETE endpoint enabled, still trusts only a read-back", func() {
		setup()
		Expect(k8sClient.Patch(suiteCtx, pc, client.RawPatch("application/merge-patch+json",
			[]byte(`{"spec":{"hostup":{"grantRevocation":"DeleteEndpoint"}}}`)))).To(Succeed())
		Eventually(func() bool { return reconciler.IsReady(getPC(pc).Status.Conditions, pc.Generation) }).WithTimeout(eventuallyTO).Should(BeTrue())
		dg := delegatedGrant(ns, "d", "d@example.com")
		Expect(k8sClient.Create(suiteCtx, dg)).To(Succeed())
		waitReady(dg)
		Expect(k8sClient.Delete(suiteCtx, dg)).To(Succeed())
		Eventually(condition(dg, accessv1alpha1.TypeStalled)).WithTimeout(eventuallyTO).
			Should(haveCond(metav1.ConditionTrue, accessv1alpha1.ReasonRevocationRequiresDashboard))
		Expect(condition(dg, accessv1alpha1.TypeStalled)().Message).To(SatisfyAll(
			ContainSubstring("HostUp refused to revoke grant "+dg.Status.GrantID), ContainSubstring("Not in a delegated access session")))
		Expect(fake.Calls("DELETE /api/delegated-access/{id}")).To(BeNumerically(">=", 1))
		Expect(grantsFor(fake, "d@example.com")[0].RevokedAt).To(BeNil())
	})

	It("observes 50 grants of one account with one list call per poll interval", func() {
		setup()
		for i := range 50 {
			Expect(k8sClient.Create(suiteCtx, delegatedGrant(ns, "g"+itoa(int64(i)), "user"+itoa(int64(i))+"@example.com"))).To(Succeed())
		}
		Eventually(func() int {
			list := &accessv1alpha1.DelegatedGrantList{}
			Expect(k8sClient.List(suiteCtx, list, client.InNamespace(ns))).To(Succeed())
			n := 0
			for _, dg := range list.Items {
				if dg.Status.State == accessv1alpha1.GrantPending {
					n++
				}
			}
			return n
		}).WithTimeout(60 * time.Second).Should(Equal(50))
		Expect(fake.Calls("POST /api/delegated-access")).To(Equal(50), "one invitation each, no duplicates")

		const intervals = 4
		before := fake.Calls("GET /api/delegated-access")
		time.Sleep(intervals * shortPoll)
		lists := fake.Calls("GET /api/delegated-access") - before
		GinkgoWriter.Printf("grant list calls over %d poll intervals with 50 DelegatedGrants: %d\n", intervals, lists)
		Expect(lists).To(BeNumerically("<=", intervals+1))
		Expect(lists).To(BeNumerically(">=", intervals-1))
		Expect(fake.Calls("POST /api/delegated-access")).To(Equal(50))
	})
})

func getPC(pc *accessv1alpha1.ProviderConfig) *accessv1alpha1.ProviderConfig {
	_ = k8sClient.Get(suiteCtx, client.ObjectKeyFromObject(pc), pc)
	return pc
}
