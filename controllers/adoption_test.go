package controllers

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	accessv1alpha1 "github.com/contactsync/contactsync/api/v1alpha1"
	"github.com/contactsync/contactsync/internal/cli"
	oo "github.com/contactsync/contactsync/internal/onlyoffice/onlyofficefake"
)

// plugin runs kubectl-contactsync against the suite's API server, as a user with the
// suite's kubeconfig would, and checks that no credential reaches its output.
func plugin(ns string, args ...string) (int, string, string) {
	GinkgoHelper()
	var out, errb bytes.Buffer
	base := []string{"-n", ns, "--allow-insecure-http", "--hostup-allowed-hosts", "127.0.0.1", "--onlyoffice-allowed-hosts", "127.0.0.1"}
	code := cli.Main(context.Background(), append(base, args...), cli.Options{Out: &out, Err: &errb, RESTConfig: cfg})
	expectNoSecretsIn(out.String()+errb.String(), ns)
	return code, out.String(), errb.String()
}

// applyDocs creates every object of a multi-document YAML stream (comments and all), as
// `kubectl apply -f` of the imported file would.
func applyDocs(stream string) []client.Object {
	GinkgoHelper()
	var objs []client.Object
	for _, d := range strings.Split(stream, "\n---\n") {
		obj := decodeYAML(d)
		Expect(k8sClient.Create(suiteCtx, obj)).To(Succeed())
		objs = append(objs, obj)
	}
	return objs
}

// stayQuiet checks, over three poll periods, that nothing writes to the provider.
func stayQuiet(writes func() int) {
	GinkgoHelper()
	Consistently(writes).WithTimeout(3 * declaredPoll / timeDivisor).WithPolling(20 * time.Millisecond).Should(Equal(0))
}

func planOf(obj client.Object) []string {
	switch o := obj.(type) {
	case *accessv1alpha1.ContactAccess:
		return o.Status.Plan
	case *accessv1alpha1.DelegatedGrant:
		return o.Status.Plan
	}
	return nil
}

var _ = Describe("Adoption with kubectl contactsync", func() {
	It("round-trips a HostUp contact and a grant: import, apply, Ready with no write and an empty plan", func() {
		ns := newNamespace()
		fake, url := startHostUp()
		waitReady(hostupProviderConfig(ns, "hostup", url, testAPIKey))
		anna := fake.Contacts()[0].ID

		code, contacts, errs := plugin(ns, "import", "hostup-contact", itoa(anna))
		Expect(code).To(Equal(cli.ExitOK), errs)
		code, grants, errs := plugin(ns, "import", "grants")
		Expect(code).To(Equal(cli.ExitOK), errs)
		Expect(grants).To(ContainSubstring("grantID: " + fake.Grants()[0].ID))

		fake.ResetCounters()
		objs := applyDocs(contacts + "\n---\n" + grants)
		for _, obj := range objs {
			Eventually(condition(obj, accessv1alpha1.TypeReady)).Should(haveCond(metav1.ConditionTrue, accessv1alpha1.ReasonAvailable), "%s", obj.GetName())
			Expect(planOf(obj)).To(BeEmpty())
		}
		stayQuiet(fake.Writes)
		Expect(fake.Calls("POST /api/delegated-access")).To(BeZero(), "an adopted grant is never invited")
		dg := objs[1].(*accessv1alpha1.DelegatedGrant)
		Expect(dg.Status.State).To(Equal(accessv1alpha1.GrantActive))

		By("the adopted grant is no longer listed as undeclared")
		pc := &accessv1alpha1.ProviderConfig{}
		Eventually(func() int32 {
			_ = k8sClient.Get(suiteCtx, client.ObjectKey{Namespace: ns, Name: "hostup"}, pc)
			return pc.Status.UndeclaredGrantsTotal
		}).Should(BeZero())

		By("plan of the imported files: nothing would change (exit 0)")
		dir := GinkgoT().TempDir()
		Expect(os.WriteFile(filepath.Join(dir, "contacts.yaml"), []byte(contacts), 0o600)).To(Succeed())
		Expect(os.WriteFile(filepath.Join(dir, "grants.yaml"), []byte(grants), 0o600)).To(Succeed())
		code, out, errs := plugin(ns, "plan", "-f", dir)
		Expect(code).To(Equal(cli.ExitOK), out+errs)
		Expect(fake.Writes()).To(BeZero())
	})

	It("round-trips an ONLYOFFICE contact: import, apply, Ready with no write and an empty plan", func() {
		ns := newNamespace()
		fake, url := startOnlyOffice()
		waitReady(onlyofficeProviderConfig(ns, "onlyoffice", url, oo.DemoAdminEmail, oo.DemoAdminPassword))
		code, docs, errs := plugin(ns, "import", "onlyoffice-contact", "101", "102", "108")
		Expect(code).To(Equal(cli.ExitOK), errs)
		fake.ResetCounts()
		for _, obj := range applyDocs(docs) {
			Eventually(condition(obj, accessv1alpha1.TypeReady)).Should(haveCond(metav1.ConditionTrue, accessv1alpha1.ReasonAvailable), "%s", obj.GetName())
			Expect(planOf(obj)).To(BeEmpty())
		}
		stayQuiet(func() int { return ooWrites(fake) })
	})

	It("plans exactly what the controller puts in status.plan, and exits 2", func() {
		ns := newNamespace()
		fake, url := startHostUp()
		waitReady(hostupProviderConfig(ns, "hostup", url, testAPIKey))
		erik := fake.Contacts()[1].ID
		doc := `apiVersion: access.contactsync.dev/v1alpha1
kind: ContactAccess
metadata: {name: erik, namespace: ` + ns + `}
spec:
  providerConfigRef: {name: hostup}
  managementPolicy: Observe
  hostup:
    contact: {id: ` + itoa(erik) + `}
    permissions:
      domains: [{name: example.se}]
      dnsZones: [{id: "3035"}]
      canViewInvoices: true
---
apiVersion: access.contactsync.dev/v1alpha1
kind: DelegatedGrant
metadata: {name: new-consultant, namespace: ` + ns + `}
spec:
  providerConfigRef: {name: hostup}
  managementPolicy: Observe
  email: new@consult.example
  label: New consultant
`
		objs := applyDocs(doc)
		for _, obj := range objs {
			Eventually(func() []string {
				_ = k8sClient.Get(suiteCtx, client.ObjectKeyFromObject(obj), obj)
				return planOf(obj)
			}).ShouldNot(BeEmpty())
		}
		file := filepath.Join(GinkgoT().TempDir(), "access.yaml")
		Expect(os.WriteFile(file, []byte(doc), 0o600)).To(Succeed())
		code, out, errs := plugin(ns, "plan", "-f", file, "-o", "json")
		Expect(code).To(Equal(cli.ExitChanges), out+errs)
		var res cli.PlanResult
		Expect(json.Unmarshal([]byte(out), &res)).To(Succeed())
		Expect(res.Items).To(HaveLen(2))
		for i, obj := range objs {
			Expect(res.Items[i].Name).To(Equal(obj.GetName()))
			Expect(res.Items[i].Changes).To(Equal(planOf(obj)), "plan of %s equals its status.plan", obj.GetName())
		}
		Expect(fake.Writes()).To(BeZero())
	})

	It("stalls an adopted grant that does not exist or was sent to someone else, and never invites", func() {
		ns := newNamespace()
		fake, url := startHostUp()
		waitReady(hostupProviderConfig(ns, "hostup", url, testAPIKey))
		ghost := delegatedGrant(ns, "ghost", "ghost@example.com")
		ghost.Spec.GrantID = "no-such-grant"
		Expect(k8sClient.Create(suiteCtx, ghost)).To(Succeed())
		Eventually(condition(ghost, accessv1alpha1.TypeStalled)).Should(haveCond(metav1.ConditionTrue, accessv1alpha1.ReasonGrantNotFound))

		other := delegatedGrant(ns, "other", "someone@else.example")
		other.Spec.GrantID = fake.Grants()[0].ID
		Expect(k8sClient.Create(suiteCtx, other)).To(Succeed())
		Eventually(condition(other, accessv1alpha1.TypeStalled)).Should(haveCond(metav1.ConditionTrue, accessv1alpha1.ReasonGrantMismatch))
		Expect(fake.Calls("POST /api/delegated-access")).To(BeZero())
		Expect(yaml.Marshal(getDG(other).Status)).NotTo(ContainSubstring("grantee"), "nothing of the other person's grant is reported")
	})
})
