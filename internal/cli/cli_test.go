package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/yaml"

	accessv1alpha1 "github.com/contactsync/contactsync/api/v1alpha1"
	"github.com/contactsync/contactsync/internal/hostup/hostupfake"
	oo "github.com/contactsync/contactsync/internal/onlyoffice/onlyofficefake"
)

const (
	ns     = "team-a"
	apiKey = "cli-test-hostup-api-key-0123456789"
)

// world is a namespace with a HostUp and an ONLYOFFICE ProviderConfig over the demo fakes.
type world struct {
	hostup *hostupfake.Server
	portal *oo.Server
	kube   client.Client
}

func newWorld(t *testing.T, extra ...client.Object) *world {
	t.Helper()
	hu := hostupfake.NewDemo(hostupfake.WithAPIKey(apiKey))
	huSrv := httptest.NewServer(hu)
	t.Cleanup(huSrv.Close)
	portal := oo.NewDemo()
	ooSrv := httptest.NewServer(portal)
	t.Cleanup(ooSrv.Close)

	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(accessv1alpha1.AddToScheme(scheme))
	labelled := map[string]string{accessv1alpha1.LabelCredentials: "true"}
	objs := []client.Object{
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "hostup-key", Labels: labelled}, Data: map[string][]byte{"apiKey": []byte(apiKey)}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "crm-login", Labels: labelled}, Data: map[string][]byte{
			"userName": []byte(oo.DemoAdminEmail), "password": []byte(oo.DemoAdminPassword)}},
		&accessv1alpha1.ProviderConfig{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "hostup"}, Spec: accessv1alpha1.ProviderConfigSpec{
			HostUp: &accessv1alpha1.HostUpProvider{BaseURL: huSrv.URL + "/api", APIKeySecretRef: accessv1alpha1.SecretKeySelector{Name: "hostup-key", Key: "apiKey"}}}},
		&accessv1alpha1.ProviderConfig{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "crm"}, Spec: accessv1alpha1.ProviderConfigSpec{
			OnlyOffice: &accessv1alpha1.OnlyOfficeProvider{BaseURL: ooSrv.URL, CredentialsSecretRef: accessv1alpha1.SecretReference{Name: "crm-login"}}}},
		// A platform team's ClusterProviderConfig for the same HostUp account, allowed in team-a
		// only, with its Secret in the controller's namespace.
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-b"}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "contactsync-system", Name: "platform-hostup", Labels: labelled}, Data: map[string][]byte{"apiKey": []byte(apiKey)}},
		&accessv1alpha1.ClusterProviderConfig{ObjectMeta: metav1.ObjectMeta{Name: "platform"}, Spec: accessv1alpha1.ClusterProviderConfigSpec{
			Namespaces: []string{ns},
			ProviderConfigSpec: accessv1alpha1.ProviderConfigSpec{HostUp: &accessv1alpha1.HostUpProvider{BaseURL: huSrv.URL + "/api",
				APIKeySecretRef: accessv1alpha1.SecretKeySelector{Name: "platform-hostup", Key: "apiKey"}}}}},
	}
	kube := fake.NewClientBuilder().WithScheme(scheme).WithObjects(append(objs, extra...)...).
		WithStatusSubresource(&accessv1alpha1.ContactAccess{}, &accessv1alpha1.DelegatedGrant{}).Build()
	return &world{hostup: hu, portal: portal, kube: kube}
}

// run runs the plugin as a user would, with the flags the fakes on loopback need.
func (w *world) run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	base := []string{"-n", ns, "--allow-insecure-http", "--hostup-allowed-hosts", "127.0.0.1", "--onlyoffice-allowed-hosts", "127.0.0.1"}
	code = Main(context.Background(), append(base, args...), Options{Out: &out, Err: &errb, Kube: w.kube})
	// No credential ever reaches the output or the diagnostics.
	for _, secret := range []string{apiKey, oo.DemoAdminPassword, "demo-password-1", oo.DemoManagerPassword} {
		for what, s := range map[string]string{"stdout": out.String(), "stderr": errb.String()} {
			if strings.Contains(s, secret) || (len(secret) >= 8 && strings.Contains(s, secret[:8])) {
				t.Fatalf("%v: %s holds a credential (%q...)", args, what, secret[:3])
			}
		}
	}
	return code, out.String(), errb.String()
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "objects.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestImportHostUpContactIsObserveOrphanWithNamesAndIDs(t *testing.T) {
	w := newWorld(t)
	code, out, errs := w.run(t, "import", "hostup-contact", "14000")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{
		"kind: ContactAccess", "name: hostup-contact-14000", "namespace: team-a",
		"managementPolicy: Observe", "deletionPolicy: Orphan", "id: 14000",
		"- name: VPS XS # id 14101 (vps)", "- name: example.com # id 21266", "- name: example.com # id 3034",
		"canOpenTickets: true", "# Imported by kubectl contactsync from HostUp contact 14000",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("import output lacks %q:\n%s", want, out)
		}
	}
	if !strings.HasPrefix(stripComments(out), "apiVersion: ") || strings.Contains(out, "\nstatus:") || strings.Contains(out, "creationTimestamp") {
		t.Errorf("import output carries status or creationTimestamp:\n%s", out)
	}
	if w.hostup.Writes() != 0 {
		t.Errorf("import wrote to HostUp (%d writes)", w.hostup.Writes())
	}
}

func TestImportedObjectsPlanNoChanges(t *testing.T) {
	w := newWorld(t)
	var files []string
	for _, args := range [][]string{
		{"import", "hostup-contact", "14000", "14001"},
		{"import", "onlyoffice-contact", "101", "102", "108"},
		{"import", "grants"},
	} {
		code, out, errs := w.run(t, args...)
		if code != ExitOK {
			t.Fatalf("%v: exit %d: %s", args, code, errs)
		}
		files = append(files, "-f", writeFile(t, out))
	}
	code, out, errs := w.run(t, append([]string{"plan"}, files...)...)
	if code != ExitOK {
		t.Fatalf("plan of what was just imported: exit %d (want 0)\n%s\n%s", code, out, errs)
	}
	if !strings.Contains(out, "Plan: 6 object(s), 0 would change, 0 cannot be planned.") {
		t.Errorf("plan summary:\n%s", out)
	}
	if w.hostup.Writes() != 0 || w.portal.Writes() != 0 {
		t.Errorf("plan wrote to a provider (hostup %d, onlyoffice %d)", w.hostup.Writes(), w.portal.Writes())
	}
}

func TestImportOnlyOfficeContactManagersByEmail(t *testing.T) {
	w := newWorld(t)
	code, out, errs := w.run(t, "import", "onlyoffice-contact", "101", "102", "105", "107", "-o", "json")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var list struct {
		Items []accessv1alpha1.ContactAccess
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out)
	}
	if len(list.Items) != 4 {
		t.Fatalf("%d items", len(list.Items))
	}
	ada := list.Items[0].Spec.OnlyOffice
	if ada.Shared || len(ada.Managers) != 2 || ada.Managers[0].Email != "alice@demo.example.com" || ada.Managers[1].Email != "bob@demo.example.com" {
		t.Errorf("contact 101: %+v", ada)
	}
	if !list.Items[1].Spec.OnlyOffice.Shared {
		t.Errorf("contact 102 is shared: %+v", list.Items[1].Spec.OnlyOffice)
	}
	if !strings.Contains(errs, "CRM contact 105 is shared read-only") {
		t.Errorf("no warning for the read-only share: %s", errs)
	}
	if m := list.Items[3].Spec.OnlyOffice.Managers; len(m) != 0 || !strings.Contains(errs, "frank@demo.example.com is terminated") {
		t.Errorf("contact 107's terminated manager: %+v, %s", m, errs)
	}
}

func TestImportGrantsAdoptsWithGrantID(t *testing.T) {
	w := newWorld(t)
	code, out, errs := w.run(t, "import", "grants")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var dg accessv1alpha1.DelegatedGrant
	if err := yaml.UnmarshalStrict([]byte(stripComments(out)), &dg); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	g := w.hostup.Grants()[0]
	if dg.Spec.GrantID != g.ID || dg.Spec.Email != "karin@consult.example" || dg.Spec.Label != "Consultant" ||
		dg.Spec.DeletionPolicy != accessv1alpha1.GrantDeletionOrphan || dg.Spec.ManagementPolicy != accessv1alpha1.ManagementObserve {
		t.Errorf("imported grant: %+v", dg.Spec)
	}
	// A grant a DelegatedGrant already declares is skipped unless --all.
	if err := w.kube.Create(context.Background(), &accessv1alpha1.DelegatedGrant{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "karin"},
		Spec: accessv1alpha1.DelegatedGrantSpec{ProviderConfigRef: accessv1alpha1.ProviderConfigReference{Name: "hostup"}, Email: "karin@consult.example", GrantID: g.ID}}); err != nil {
		t.Fatal(err)
	}
	code, out, errs = w.run(t, "import", "grants")
	if code != ExitOK || strings.Contains(out, "kind: DelegatedGrant") || !strings.Contains(errs, "is declared by DelegatedGrant team-a/karin") {
		t.Errorf("declared grant imported again: exit %d\n%s\n%s", code, out, errs)
	}
	code, out, _ = w.run(t, "import", "grants", "--all")
	if code != ExitOK || !strings.Contains(out, "grantID: "+g.ID) {
		t.Errorf("--all: exit %d\n%s", code, out)
	}
}

func stripComments(s string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "#") {
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

func TestPlanExitCodes(t *testing.T) {
	w := newWorld(t)
	unchanged := `apiVersion: access.contactsync.dev/v1alpha1
kind: ContactAccess
metadata: {name: erik}
spec:
  providerConfigRef: {name: hostup}
  hostup:
    contact: {id: 14001}
    permissions: {canViewInvoices: true, canReceiveInvoices: true}
`
	changed := `apiVersion: access.contactsync.dev/v1alpha1
kind: ContactAccess
metadata: {name: erik}
spec:
  providerConfigRef: {name: hostup}
  hostup:
    contact: {id: 14001}
    permissions:
      domains: [{name: example.se}]
      canViewInvoices: true
---
apiVersion: v1
kind: ConfigMap
metadata: {name: skipped}
`
	for name, tc := range map[string]struct {
		body string
		code int
		want string
	}{
		"nothing would change":     {unchanged, ExitOK, "ContactAccess team-a/erik: no changes"},
		"something would change":   {changed, ExitChanges, "  ~ "},
		"unknown resource":         {strings.Replace(unchanged, "canViewInvoices: true,", "domains: [{name: nope.example}], canViewInvoices: true,", 1), ExitError, "cannot plan: UnknownResource"},
		"missing ProviderConfig":   {strings.Replace(unchanged, "{name: hostup}", "{name: nope}", 1), ExitError, "cannot plan: ProviderConfigNotFound"},
		"wrong provider":           {strings.Replace(unchanged, "{name: hostup}", "{name: crm}", 1), ExitError, "cannot plan: ProviderMismatch"},
		"unknown field (a typo)":   {strings.Replace(unchanged, "canViewInvoices", "canViewInvoice", 1), ExitError, `unknown field "spec.hostup.permissions.canViewInvoice"`},
		"not YAML":                 {"kind: [", ExitError, "document 1"},
		"contact gone from HostUp": {strings.Replace(unchanged, "14001", "9999", 1), ExitError, "ContactNotFound"},
		"a grant that does not exist": {`apiVersion: access.contactsync.dev/v1alpha1
kind: DelegatedGrant
metadata: {name: ghost}
spec: {providerConfigRef: {name: hostup}, email: ghost@example.com, grantID: no-such-grant}
`, ExitError, "GrantNotFound"},
		"a new invitation": {`apiVersion: access.contactsync.dev/v1alpha1
kind: DelegatedGrant
metadata: {name: new}
spec: {providerConfigRef: {name: hostup}, email: new@example.com, label: New}
`, ExitChanges, `~ invite new@example.com (label "New")`},
	} {
		t.Run(name, func(t *testing.T) {
			code, out, errs := w.run(t, "plan", "-f", writeFile(t, tc.body))
			if code != tc.code {
				t.Fatalf("exit %d, want %d\n%s\n%s", code, tc.code, out, errs)
			}
			if !strings.Contains(out+errs, tc.want) {
				t.Errorf("output lacks %q:\n%s\n%s", tc.want, out, errs)
			}
		})
	}
	if w.hostup.Writes() != 0 {
		t.Errorf("plan wrote to HostUp (%d writes)", w.hostup.Writes())
	}
}

func TestPlanJSONChangesAreStatusPlanLines(t *testing.T) {
	w := newWorld(t)
	code, out, _ := w.run(t, "plan", "-o", "json", "-f", writeFile(t, `apiVersion: access.contactsync.dev/v1alpha1
kind: ContactAccess
metadata: {name: ada}
spec:
  providerConfigRef: {name: crm}
  onlyoffice: {contactID: 101, managers: [{email: alice@demo.example.com}]}
`))
	if code != ExitChanges {
		t.Fatalf("exit %d\n%s", code, out)
	}
	var res PlanResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	if res.Changed != 1 || len(res.Items) != 1 || len(res.Items[0].Changes) != 1 || !strings.HasPrefix(res.Items[0].Changes[0], "managers: remove ") {
		t.Errorf("plan: %+v", res)
	}
}

func TestCatalogue(t *testing.T) {
	w := newWorld(t)
	code, out, errs := w.run(t, "catalogue", "-p", "hostup", "--contact", "14000")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{"TYPE", "service  14101  VPS XS", "domain   21266  example.com", "dnsZone  19513  shop.example.se"} {
		if !strings.Contains(out, want) {
			t.Errorf("catalogue lacks %q:\n%s", want, out)
		}
	}
	code, _, errs = w.run(t, "catalogue", "-p", "hostup")
	if code != ExitError || !strings.Contains(errs, "give --contact ID") {
		t.Errorf("HostUp catalogue without --contact: exit %d, %s", code, errs)
	}
	code, out, errs = w.run(t, "catalogue", "-p", "crm")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errs)
	}
	for _, want := range []string{"EMAIL", "alice@demo.example.com", "frank@demo.example.com", "terminated", "guest@partner.example.org", "visitor", oo.DemoAliceID} {
		if !strings.Contains(out, want) {
			t.Errorf("users catalogue lacks %q:\n%s", want, out)
		}
	}
}

func TestCredentialsNeverInOutput(t *testing.T) {
	w := newWorld(t)
	// The wrong key: HostUp answers 401; the error names the reason, never the key.
	w.hostup.SetAPIKey("another-key-entirely")
	code, _, errs := w.run(t, "import", "hostup-contact", "14000")
	if code != ExitError || !strings.Contains(errs, "error:") {
		t.Errorf("rejected key: exit %d, %s", code, errs)
	}
}

func TestEveryCommandHasHelpWithExamples(t *testing.T) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Name() == "help" || c.Name() == "completion" || c.Parent() != nil && c.Parent().Name() == "completion" {
			return
		}
		if c.Example == "" || !strings.Contains(c.Example, "kubectl contactsync") {
			t.Errorf("%q has no example", c.CommandPath())
		}
		if c.Short == "" {
			t.Errorf("%q has no short help", c.CommandPath())
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(NewCommand(&Options{}))
	var out bytes.Buffer
	if code := Main(context.Background(), []string{"plan", "--help"}, Options{Out: &out, Err: &out}); code != ExitOK ||
		!strings.Contains(out.String(), "Examples:") || !strings.Contains(out.String(), "kubectl contactsync plan") {
		t.Errorf("plan --help: exit %d\n%s", code, out.String())
	}
}

func TestClusterProviderConfig(t *testing.T) {
	w := newWorld(t)
	code, out, errs := w.run(t, "import", "hostup-contact", "14001", "-p", "ClusterProviderConfig/platform")
	if code != ExitOK || !strings.Contains(out, "kind: ClusterProviderConfig") || !strings.Contains(out, "name: platform") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	code, out, errs = w.run(t, "plan", "-f", writeFile(t, out))
	if code != ExitOK {
		t.Errorf("plan through the ClusterProviderConfig: exit %d\n%s\n%s", code, out, errs)
	}
	// team-b is not allowed: refused with the controller's reason, nothing sent.
	before := w.hostup.Calls("GET /api/contacts/{id}/permissions")
	var outb, errb bytes.Buffer
	code = Main(context.Background(), []string{"-n", "team-b", "--allow-insecure-http", "--hostup-allowed-hosts", "127.0.0.1",
		"import", "hostup-contact", "14001", "-p", "ClusterProviderConfig/platform"}, Options{Out: &outb, Err: &errb, Kube: w.kube})
	if code != ExitError || !strings.Contains(errb.String(), "NamespaceNotAllowed") || w.hostup.Calls("GET /api/contacts/{id}/permissions") != before {
		t.Errorf("team-b: exit %d, %s", code, errb.String())
	}
	if code, _, errs := w.run(t, "import", "grants", "-p", "Secret/x"); code != ExitError || !strings.Contains(errs, "ClusterProviderConfig/NAME") {
		t.Errorf("bad -p: exit %d, %s", code, errs)
	}
}
