package controllers

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	accessv1alpha1 "github.com/contactsync/contactsync/api/v1alpha1"
)

// The ValidatingAdmissionPolicy shipped in config/policy (and config/default), run by the
// envtest API server. Its binding is narrowed to one labelled namespace here so that the test
// manager (which does not run as the controller's ServiceAccount) is unaffected elsewhere.
var _ = Describe("Protected create-guard annotations", func() {
	It("lets only the controller (or an adopter) set created-id or create-pending; anyone may withdraw an intent", func() {
		raw, err := os.ReadFile(filepath.Join("..", "config", "policy", "protected_annotations.yaml"))
		Expect(err).NotTo(HaveOccurred())
		docs := strings.Split(string(raw), "\n---\n")
		Expect(docs).To(HaveLen(2))
		policy := decodeYAML(docs[0]).(*admissionv1.ValidatingAdmissionPolicy)
		binding := decodeYAML(docs[1]).(*admissionv1.ValidatingAdmissionPolicyBinding)
		// config/default's namePrefix makes the policy contactsync-protected-annotations, the
		// name the binding refers to.
		policy.Name = binding.Spec.PolicyName
		binding.Name = binding.Spec.PolicyName
		binding.Spec.MatchResources = &admissionv1.MatchResources{NamespaceSelector: &metav1.LabelSelector{
			MatchLabels: map[string]string{"contactsync-test/policy": "on"}}}
		Expect(k8sClient.Create(suiteCtx, policy)).To(Succeed())
		DeferCleanup(func() { _ = k8sClient.Delete(context.Background(), policy) })
		Expect(k8sClient.Create(suiteCtx, binding)).To(Succeed())
		DeferCleanup(func() { _ = k8sClient.Delete(context.Background(), binding) })

		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "t-policy-", Labels: map[string]string{"contactsync-test/policy": "on"}}}
		Expect(k8sClient.Create(suiteCtx, ns)).To(Succeed())
		DeferCleanup(func() { _ = k8sClient.Delete(context.Background(), ns) })

		userClient := func(name string, groups ...string) client.Client {
			u, err := testEnv.AddUser(envtest.User{Name: name, Groups: append([]string{"system:masters"}, groups...)}, nil)
			Expect(err).NotTo(HaveOccurred())
			c, err := client.New(u.Config(), client.Options{Scheme: scheme})
			Expect(err).NotTo(HaveOccurred())
			return c
		}
		mallory := userClient("mallory")
		adopter := userClient("adopter", "contactsync:adopters")
		withID := func(name, id string) *accessv1alpha1.ContactAccess {
			ca := hostupAccess(ns.Name, name, "none", ptr(int64(5)), accessv1alpha1.HostUpPermissions{})
			if id != "" {
				ca.Annotations = map[string]string{accessv1alpha1.AnnotationCreatedID: id}
			}
			return ca
		}

		By("a user cannot forge created-id at create time (once the policy is active)")
		Eventually(func() string {
			err := mallory.Create(suiteCtx, withID("forged", "14000"))
			if err == nil {
				_ = k8sClient.Delete(suiteCtx, withID("forged", ""))
				return ""
			}
			return err.Error()
		}).WithTimeout(30 * time.Second).WithPolling(500 * time.Millisecond).Should(ContainSubstring("only the contactsync controller may set"))

		By("nor add it later, nor set create-pending")
		plain := withID("plain", "")
		Expect(mallory.Create(suiteCtx, plain)).To(Succeed())
		for _, ann := range []string{accessv1alpha1.AnnotationCreatedID, accessv1alpha1.AnnotationCreatePending} {
			err := mallory.Patch(suiteCtx, plain, client.RawPatch("application/merge-patch+json",
				[]byte(`{"metadata":{"annotations":{"`+ann+`":"14000"}}}`)))
			Expect(err).To(HaveOccurred(), ann)
			Expect(err.Error()).To(ContainSubstring("only the contactsync controller may set"))
		}

		By("an administrator in contactsync:adopters may adopt by hand; anyone may withdraw a pending intent")
		adopted := withID("adopted", "14001")
		adopted.Annotations[accessv1alpha1.AnnotationCreatePending] = "2026-01-01T00:00:00Z"
		Expect(adopter.Create(suiteCtx, adopted)).To(Succeed())
		Expect(mallory.Patch(suiteCtx, adopted, client.RawPatch("application/merge-patch+json",
			[]byte(`{"metadata":{"annotations":{"`+accessv1alpha1.AnnotationCreatePending+`":null}}}`)))).To(Succeed())
		err = mallory.Patch(suiteCtx, adopted, client.RawPatch("application/merge-patch+json",
			[]byte(`{"metadata":{"annotations":{"`+accessv1alpha1.AnnotationCreatedID+`":null}}}`)))
		Expect(err).To(HaveOccurred(), "removing created-id would let the object create a second contact")
	})
})
