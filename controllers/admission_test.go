package controllers

import (
	"os"
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// decodeYAML turns one YAML document into a typed object of the test scheme.
func decodeYAML(doc string) client.Object {
	GinkgoHelper()
	obj, gvk, err := serializer.NewCodecFactory(scheme).UniversalDeserializer().Decode([]byte(doc), nil, nil)
	Expect(err).NotTo(HaveOccurred(), "cannot decode:\n%s", doc)
	obj.GetObjectKind().SetGroupVersionKind(*gvk)
	return obj.(client.Object)
}

var _ = Describe("Admission", func() {
	It("accepts every sample in config/samples", func() {
		ns := newNamespace()
		files, err := filepath.Glob(filepath.Join("..", "config", "samples", "*.yaml"))
		Expect(err).NotTo(HaveOccurred())
		seen := map[string]bool{}
		for _, f := range files {
			if filepath.Base(f) == "kustomization.yaml" {
				continue
			}
			raw, err := os.ReadFile(f)
			Expect(err).NotTo(HaveOccurred())
			obj := decodeYAML(string(raw))
			kind := obj.GetObjectKind().GroupVersionKind().Kind
			obj.SetNamespace(ns)
			Expect(k8sClient.Create(suiteCtx, obj)).To(Succeed(), "sample %s", f)
			if obj.GetNamespace() == "" { // cluster-scoped: not purged with the namespace
				DeferCleanup(func() {
					_ = k8sClient.Delete(suiteCtx, obj)
					_ = k8sClient.Patch(suiteCtx, obj, client.RawPatch("application/merge-patch+json", []byte(`{"metadata":{"finalizers":null}}`)))
				})
			}
			seen[kind] = true
		}
		Expect(seen).To(HaveKey("ProviderConfig"))
		Expect(seen).To(HaveKey("ClusterProviderConfig"))
		Expect(seen).To(HaveKey("ContactAccess"))
		Expect(seen).To(HaveKey("DelegatedGrant"))
	})

	const (
		hostupPC = `
apiVersion: access.contactsync.dev/v1alpha1
kind: ProviderConfig
metadata: {name: bad}
spec:
`
		ca = `
apiVersion: access.contactsync.dev/v1alpha1
kind: ContactAccess
metadata: {name: bad}
spec:
  providerConfigRef: {name: hostup}
`
		dg = `
apiVersion: access.contactsync.dev/v1alpha1
kind: DelegatedGrant
metadata: {name: bad}
spec:
  providerConfigRef: {name: hostup}
`
	)

	DescribeTable("rejects invalid objects with a clear message",
		func(doc, wantMessage string) {
			obj := decodeYAML(doc)
			obj.SetNamespace(newNamespace())
			err := k8sClient.Create(suiteCtx, obj)
			Expect(err).To(HaveOccurred())
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "want an Invalid error, got %v", err)
			Expect(err.Error()).To(ContainSubstring(wantMessage))
		},
		Entry("ProviderConfig with neither provider", hostupPC+`  syncInterval: 10m`,
			"exactly one of spec.hostup or spec.onlyoffice must be set"),
		Entry("ProviderConfig with both providers", hostupPC+`
  hostup: {apiKeySecretRef: {name: s, key: k}}
  onlyoffice: {baseURL: "https://o.example", credentialsSecretRef: {name: s}}`,
			"exactly one of spec.hostup or spec.onlyoffice must be set"),
		Entry("ProviderConfig with a non-http base URL", hostupPC+`
  hostup: {baseURL: "ftp://x", apiKeySecretRef: {name: s, key: k}}`,
			"spec.hostup.baseURL: Invalid value"),
		Entry("ProviderConfig with a tiny sync interval", hostupPC+`
  hostup: {apiKeySecretRef: {name: s, key: k}}
  syncInterval: 1s`,
			"syncInterval must be a duration such as 90s, 10m or 1h30m, between 5s and 24h"),
		Entry("ProviderConfig with too many requests per second", hostupPC+`
  hostup: {apiKeySecretRef: {name: s, key: k}}
  rateLimit: {requestsPerSecond: 5000}`,
			"spec.rateLimit.requestsPerSecond: Invalid value: 5000: spec.rateLimit.requestsPerSecond in body should be less than or equal to 1000"),
		Entry("ProviderConfig with an unknown auth scheme", hostupPC+`
  hostup: {authScheme: Basic, apiKeySecretRef: {name: s, key: k}}`,
			`spec.hostup.authScheme: Unsupported value: "Basic"`),
		Entry("ContactAccess with both providers", ca+`
  hostup: {contact: {id: 1}}
  onlyoffice: {contactID: 1}`,
			"exactly one of spec.hostup or spec.onlyoffice must be set"),
		Entry("ContactAccess with contact id and create", ca+`
  hostup:
    contact:
      id: 5
      create: {firstName: A, lastName: B, email: a@b.se, passwordSecretRef: {name: p, key: k}}`,
			"set exactly one of contact.id or contact.create"),
		Entry("ContactAccess with neither contact id nor create", ca+`
  hostup: {contact: {}}`,
			"set exactly one of contact.id or contact.create"),
		Entry("ContactAccess permission with id and name", ca+`
  hostup:
    contact: {id: 5}
    permissions: {domains: [{id: "1", name: example.com}]}`,
			"set exactly one of id or name"),
		Entry("ContactAccess permission with a non-numeric id", ca+`
  hostup:
    contact: {id: 5}
    permissions: {services: [{id: vps_123}]}`,
			"spec.hostup.permissions.services[0].id: Invalid value"),
		Entry("ContactAccess manager with email and id", ca+`
  onlyoffice:
    contactID: 3
    managers: [{email: a@b.se, id: 4a515a15-d4d6-4b8e-828e-e0586f18f3a3}]`,
			"set exactly one of email or id"),
		Entry("ContactAccess manager id that is not a GUID", ca+`
  onlyoffice:
    contactID: 3
    managers: [{id: bob}]`,
			"spec.onlyoffice.managers[0].id: Invalid value"),
		Entry("ContactAccess shared with managers", ca+`
  onlyoffice:
    contactID: 3
    shared: true
    managers: [{email: a@b.se}]`,
			"managers cannot be set when shared is true"),
		Entry("ContactAccess with contact id 0", ca+`
  onlyoffice: {contactID: 0}`,
			"spec.onlyoffice.contactID: Invalid value: 0"),
		Entry("ContactAccess Delete policy for an existing contact", ca+`
  hostup: {contact: {id: 5}}
  deletionPolicy: Delete`,
			"deletionPolicy Delete is only allowed for a HostUp contact created by this object"),
		Entry("ContactAccess with an unknown management policy", ca+`
  hostup: {contact: {id: 5}}
  managementPolicy: Sometimes`,
			`spec.managementPolicy: Unsupported value: "Sometimes"`),
		Entry("ContactAccess with a bad email to create", ca+`
  hostup:
    contact:
      create: {firstName: A, lastName: B, email: not-an-email, passwordSecretRef: {name: p, key: k}}`,
			"spec.hostup.contact.create.email: Invalid value"),
		Entry("ContactAccess with an over-long first name", ca+`
  hostup:
    contact:
      create: {firstName: `+strings.Repeat("a", 101)+`, lastName: B, email: a@b.se, passwordSecretRef: {name: p, key: k}}`,
			"spec.hostup.contact.create.firstName: Too long"),
		Entry("ContactAccess naming a ProviderConfig with an invalid name", `
apiVersion: access.contactsync.dev/v1alpha1
kind: ContactAccess
metadata: {name: bad}
spec:
  providerConfigRef: {name: "Other/Namespace"}
  hostup: {contact: {id: 5}}`,
			"spec.providerConfigRef.name: Invalid value"),
		Entry("DelegatedGrant without an email", dg+`  label: x`,
			`spec.email: Invalid value: ""`),
		Entry("DelegatedGrant with Delete policy", dg+`
  email: a@b.se
  deletionPolicy: Delete`,
			`spec.deletionPolicy: Unsupported value: "Delete"`),
		Entry("DelegatedGrant adopting a grant id with spaces", dg+`
  email: a@b.se
  grantID: "not an id"`,
			"spec.grantID: Invalid value"),
		Entry("DelegatedGrant with an over-long label", dg+`
  email: a@b.se
  label: `+strings.Repeat("x", 101),
			"spec.label: Too long"),

		// Every other field with a rule.
		Entry("ProviderConfig ONLYOFFICE base URL without a scheme", hostupPC+`
  onlyoffice: {baseURL: "office.example.com", credentialsSecretRef: {name: s}}`,
			"spec.onlyoffice.baseURL: Invalid value"),
		Entry("ProviderConfig Secret name that is not a DNS name", hostupPC+`
  hostup: {apiKeySecretRef: {name: "My_Secret", key: k}}`,
			"spec.hostup.apiKeySecretRef.name: Invalid value"),
		Entry("ProviderConfig Secret key with a slash", hostupPC+`
  hostup: {apiKeySecretRef: {name: s, key: "a/b"}}`,
			"spec.hostup.apiKeySecretRef.key: Invalid value"),
		Entry("ProviderConfig with an unknown grant revocation", hostupPC+`
  hostup: {grantRevocation: Always, apiKeySecretRef: {name: s, key: k}}`,
			`spec.hostup.grantRevocation: Unsupported value: "Always"`),
		Entry("ProviderConfig with a burst over the maximum", hostupPC+`
  hostup: {apiKeySecretRef: {name: s, key: k}}
  rateLimit: {burst: 5000}`,
			"spec.rateLimit.burst: Invalid value: 5000"),
		Entry("ProviderConfig with a sync interval over a day", hostupPC+`
  hostup: {apiKeySecretRef: {name: s, key: k}}
  syncInterval: 25h`,
			"syncInterval must be a duration such as 90s, 10m or 1h30m, between 5s and 24h"),
		Entry("ContactAccess with an unknown deletion policy", ca+`
  hostup: {contact: {id: 5}}
  deletionPolicy: Shred`,
			`spec.deletionPolicy: Unsupported value: "Shred"`),
		Entry("ContactAccess with a tiny sync interval", ca+`
  hostup: {contact: {id: 5}}
  syncInterval: 1s`,
			"syncInterval must be a duration such as 90s, 10m or 1h30m, between 5s and 24h"),
		Entry("ContactAccess with contact id 0", ca+`
  hostup: {contact: {id: 0}}`,
			"spec.hostup.contact.id: Invalid value: 0"),
		Entry("ContactAccess with an over-long last name", ca+`
  hostup:
    contact:
      create: {firstName: A, lastName: `+strings.Repeat("b", 101)+`, email: a@b.se, passwordSecretRef: {name: p, key: k}}`,
			"spec.hostup.contact.create.lastName: Too long"),
		Entry("ContactAccess with a country that is not an ISO code", ca+`
  hostup:
    contact:
      create: {firstName: A, lastName: B, email: a@b.se, country: Sweden, passwordSecretRef: {name: p, key: k}}`,
			"spec.hostup.contact.create.country: Invalid value"),
		Entry("ContactAccess with an over-long phone number", ca+`
  hostup:
    contact:
      create: {firstName: A, lastName: B, email: a@b.se, phoneNumber: "`+strings.Repeat("1", 33)+`", passwordSecretRef: {name: p, key: k}}`,
			"spec.hostup.contact.create.phoneNumber: Too long"),
		Entry("ContactAccess with an over-long address", ca+`
  hostup:
    contact:
      create: {firstName: A, lastName: B, email: a@b.se, address1: "`+strings.Repeat("x", 201)+`", passwordSecretRef: {name: p, key: k}}`,
			"spec.hostup.contact.create.address1: Too long"),
		Entry("ContactAccess with an over-long city", ca+`
  hostup:
    contact:
      create: {firstName: A, lastName: B, email: a@b.se, city: "`+strings.Repeat("x", 101)+`", passwordSecretRef: {name: p, key: k}}`,
			"spec.hostup.contact.create.city: Too long"),
		Entry("ContactAccess with an over-long postcode", ca+`
  hostup:
    contact:
      create: {firstName: A, lastName: B, email: a@b.se, postcode: "`+strings.Repeat("1", 21)+`", passwordSecretRef: {name: p, key: k}}`,
			"spec.hostup.contact.create.postcode: Too long"),
		Entry("ContactAccess password Secret without a key", ca+`
  hostup:
    contact:
      create: {firstName: A, lastName: B, email: a@b.se, passwordSecretRef: {name: p, key: ""}}`,
			"spec.hostup.contact.create.passwordSecretRef.key: Invalid value"),
		Entry("ContactAccess resource with an over-long name", ca+`
  hostup:
    contact: {id: 5}
    permissions: {dnsZones: [{name: "`+strings.Repeat("a", 254)+`"}]}`,
			"spec.hostup.permissions.dnsZones[0].name: Too long"),
		Entry("ContactAccess with more than 500 services", ca+`
  hostup:
    contact: {id: 5}
    permissions: {services: [`+strings.TrimSuffix(strings.Repeat(`{id: "1"},`, 501), ",")+`]}`,
			"spec.hostup.permissions.services: Too many"),
		Entry("ContactAccess manager with a bad e-mail", ca+`
  onlyoffice:
    contactID: 3
    managers: [{email: not-an-email}]`,
			"spec.onlyoffice.managers[0].email: Invalid value"),
		Entry("ContactAccess with more than 100 managers", ca+`
  onlyoffice:
    contactID: 3
    managers: [`+strings.TrimSuffix(strings.Repeat(`{email: a@b.se},`, 101), ",")+`]`,
			"spec.onlyoffice.managers: Too many"),
		Entry("DelegatedGrant with a bad email", dg+`
  email: "partner at example"`,
			"spec.email: Invalid value"),
		Entry("DelegatedGrant with an unknown management policy", dg+`
  email: a@b.se
  managementPolicy: Maybe`,
			`spec.managementPolicy: Unsupported value: "Maybe"`),
		Entry("DelegatedGrant token Secret name that is not a DNS name", dg+`
  email: a@b.se
  inviteTokenSecretRef: {name: "Token!"}`,
			"spec.inviteTokenSecretRef.name: Invalid value"),
		Entry("DelegatedGrant with a tiny sync interval", dg+`
  email: a@b.se
  syncInterval: 2s`,
			"syncInterval must be a duration such as 90s, 10m or 1h30m, between 5s and 24h"),
	)

	// Raw YAML, sent exactly as written (unstructured): a Go struct always sends every field, so
	// only these cases show what a user's file with fields left out meets.
	DescribeTable("judges raw YAML as a user wrote it",
		func(doc, wantMessage string) {
			u := &unstructured.Unstructured{}
			Expect(yaml.Unmarshal([]byte(doc), &u.Object)).To(Succeed())
			u.SetNamespace(newNamespace())
			err := k8sClient.Create(suiteCtx, u)
			if wantMessage == "" {
				Expect(err).NotTo(HaveOccurred())
				return
			}
			Expect(err).To(HaveOccurred())
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "want an Invalid error, got %v", err)
			Expect(err.Error()).To(ContainSubstring(wantMessage))
			Expect(err.Error()).NotTo(ContainSubstring("evaluating rule"), "a CEL evaluation error is not a message for users")
		},
		Entry("ONLYOFFICE with shared left out (private)", ca+`
  onlyoffice:
    contactID: 7
    managers: [{email: a@b.se}]`, ""),
		Entry("ONLYOFFICE with shared left out and no managers", ca+`
  onlyoffice: {contactID: 7}`, ""),
		Entry("ONLYOFFICE shared with managers", ca+`
  onlyoffice: {contactID: 7, shared: true, managers: [{email: a@b.se}]}`,
			"managers cannot be set when shared is true"),
		Entry("HostUp with only an id", ca+`
  hostup: {contact: {id: 3}}`, ""),
		Entry("ContactAccess with a malformed sync interval", ca+`
  hostup: {contact: {id: 3}}
  syncInterval: ten minutes`,
			"syncInterval must be a duration such as 90s, 10m or 1h30m, between 5s and 24h"),
		Entry("ProviderConfig with a malformed sync interval", hostupPC+`
  hostup: {apiKeySecretRef: {name: s, key: k}}
  syncInterval: "5"`,
			"syncInterval must be a duration such as 90s, 10m or 1h30m, between 5s and 24h"),
		Entry("DelegatedGrant with a malformed sync interval", dg+`
  email: a@b.se
  syncInterval: 1d`,
			"syncInterval must be a duration such as 90s, 10m or 1h30m, between 5s and 24h"),
		Entry("DelegatedGrant with only an e-mail", dg+`
  email: a@b.se`, ""),
	)

	It("defaults an omitted shared to false (private)", func() {
		u := &unstructured.Unstructured{}
		Expect(yaml.Unmarshal([]byte(ca+`
  onlyoffice: {contactID: 9}`), &u.Object)).To(Succeed())
		u.SetNamespace(newNamespace())
		u.SetName("defaults")
		Expect(k8sClient.Create(suiteCtx, u)).To(Succeed())
		shared, found, err := unstructured.NestedBool(u.Object, "spec", "onlyoffice", "shared")
		Expect(err).NotTo(HaveOccurred())
		Expect(found).To(BeTrue(), "the API server fills in the default")
		Expect(shared).To(BeFalse())
	})

	It("rejects changes to immutable fields", func() {
		ns := newNamespace()
		obj := decodeYAML(dg + `
  email: a@b.se
  label: first`)
		obj.SetNamespace(ns)
		Expect(k8sClient.Create(suiteCtx, obj)).To(Succeed())
		u := obj.DeepCopyObject().(client.Object)
		Expect(k8sClient.Get(suiteCtx, client.ObjectKeyFromObject(obj), u)).To(Succeed())
		patch := client.RawPatch("application/merge-patch+json", []byte(`{"spec":{"email":"b@c.se","label":"second"}}`))
		err := k8sClient.Patch(suiteCtx, u, patch)
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("email is immutable"))
		Expect(err.Error()).To(ContainSubstring("label is immutable"))

		c := decodeYAML(ca + `
  hostup: {contact: {id: 5}}`)
		c.SetNamespace(ns)
		Expect(k8sClient.Create(suiteCtx, c)).To(Succeed())
		err = k8sClient.Patch(suiteCtx, c, client.RawPatch("application/merge-patch+json", []byte(`{"spec":{"hostup":{"contact":{"id":6}}}}`)))
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("contact.id is immutable"))

		for patch, want := range map[string]string{
			`{"spec":{"providerConfigRef":{"name":"other"}}}`: "providerConfigRef is immutable",
			`{"spec":{"hostup":{"contact":{"id":null,"create":{"firstName":"A","lastName":"B","email":"a@b.se","passwordSecretRef":{"name":"p","key":"k"}}}}}}`: "contact cannot switch between id and create",
		} {
			err = k8sClient.Patch(suiteCtx, c, client.RawPatch("application/merge-patch+json", []byte(patch)))
			Expect(err).To(HaveOccurred(), patch)
			Expect(err.Error()).To(ContainSubstring(want))
		}
		err = k8sClient.Patch(suiteCtx, u, client.RawPatch("application/merge-patch+json", []byte(`{"spec":{"providerConfigRef":{"name":"other"}}}`)))
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("providerConfigRef is immutable"))

		By("spec.grantID may be set once, then never changed or removed")
		adopt := decodeYAML(dg + `
  email: a@b.se`)
		adopt.SetName("adopt")
		adopt.SetNamespace(ns)
		Expect(k8sClient.Create(suiteCtx, adopt)).To(Succeed())
		Expect(k8sClient.Patch(suiteCtx, adopt, client.RawPatch("application/merge-patch+json", []byte(`{"spec":{"grantID":"g-1"}}`)))).To(Succeed())
		for _, patch := range []string{`{"spec":{"grantID":"g-2"}}`, `{"spec":{"grantID":null}}`} {
			err = k8sClient.Patch(suiteCtx, adopt, client.RawPatch("application/merge-patch+json", []byte(patch)))
			Expect(err).To(HaveOccurred(), patch)
			Expect(err.Error()).To(ContainSubstring("grantID is immutable once set"))
		}

		created := decodeYAML(ca + `
  hostup:
    contact:
      create: {firstName: A, lastName: B, email: a@b.se, passwordSecretRef: {name: p, key: k}}`)
		created.SetName("created")
		created.SetNamespace(ns)
		Expect(k8sClient.Create(suiteCtx, created)).To(Succeed())
		err = k8sClient.Patch(suiteCtx, created, client.RawPatch("application/merge-patch+json", []byte(`{"spec":{"hostup":{"contact":{"create":{"email":"b@c.se"}}}}}`)))
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("contact.create is immutable"))
	})
})
