package controllers

import (
	"context"
	"encoding/json"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	accessv1alpha1 "github.com/contactsync/contactsync/api/v1alpha1"
	oo "github.com/contactsync/contactsync/internal/onlyoffice/onlyofficefake"
)

// suiteSecrets are every credential the suite hands the controller: API keys (right and
// wrong), the ONLYOFFICE passwords, contact passwords, and every invite token any fake issued.
func suiteSecrets() []string {
	secrets := []string{testAPIKey, "not-the-key", oo.DemoAdminPassword, "wrong-password",
		"s3cret-Passw0rd", "Another-s3cret", "Crash-Passw0rd"}
	allHostUp.Lock()
	defer allHostUp.Unlock()
	for _, f := range allHostUp.fakes {
		for _, g := range f.Grants() {
			if g.InviteToken != "" {
				secrets = append(secrets, g.InviteToken)
			}
		}
	}
	return secrets
}

// assertNoSecretsLeaked scans the captured logs and everything the controller wrote to the
// API server (objects with status and annotations, both event APIs). Objects purged at the end
// of their test were scanned by purgeNamespace just before.
func assertNoSecretsLeaked() {
	GinkgoHelper()
	Expect(len(capturedLogs.String())).To(BeNumerically(">", 1000), "the log capture is working")
	expectNoSecretsIn(capturedLogs.String(), "")
}

// expectNoSecretsIn fails when extra, or any object of this API or event in ns ("" for all
// namespaces), holds a credential of the suite.
func expectNoSecretsIn(extra, ns string) {
	GinkgoHelper()
	haystack := []string{extra}
	for _, list := range []client.ObjectList{
		&accessv1alpha1.ProviderConfigList{}, &accessv1alpha1.ClusterProviderConfigList{}, &accessv1alpha1.ContactAccessList{}, &accessv1alpha1.DelegatedGrantList{},
		&eventsv1.EventList{}, &corev1.EventList{},
	} {
		Expect(k8sClient.List(context.Background(), list, client.InNamespace(ns))).To(Succeed())
		raw, err := json.Marshal(list)
		Expect(err).NotTo(HaveOccurred())
		haystack = append(haystack, string(raw))
	}
	all := strings.Join(haystack, "\n")
	for _, s := range suiteSecrets() {
		Expect(strings.Contains(all, s)).To(BeFalse(), "a credential (%d chars, starting %q) leaked", len(s), s[:min(3, len(s))])
	}
}
