package connection

import (
	"context"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	accessv1alpha1 "github.com/contactsync/contactsync/api/v1alpha1"
	"github.com/contactsync/contactsync/internal/reconciler"
)

const controllerNS = "contactsync-system"

func testScheme(t *testing.T) *runtime.Scheme {
	t.Helper()
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	if err := accessv1alpha1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	return s
}

func namespace(name string, labels map[string]string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
}

func hostupSpec(url, secret string) accessv1alpha1.ProviderConfigSpec {
	return accessv1alpha1.ProviderConfigSpec{HostUp: &accessv1alpha1.HostUpProvider{
		BaseURL: url, APIKeySecretRef: accessv1alpha1.SecretKeySelector{Name: secret, Key: "apiKey"}}}
}

func labelledSecret(ns, name, key string) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, ResourceVersion: "1",
		Labels: map[string]string{accessv1alpha1.LabelCredentials: "true"}}, Data: map[string][]byte{"apiKey": []byte(key)}}
}

func TestResolverConfig(t *testing.T) {
	platform := &accessv1alpha1.ClusterProviderConfig{ObjectMeta: metav1.ObjectMeta{Name: "platform"},
		Spec: accessv1alpha1.ClusterProviderConfigSpec{
			ProviderConfigSpec: hostupSpec("https://cloud.hostup.se/api", "platform-key"),
			NamespaceSelector:  &metav1.LabelSelector{MatchLabels: map[string]string{"team": "web"}},
			Namespaces:         []string{"listed"},
		}}
	everyone := &accessv1alpha1.ClusterProviderConfig{ObjectMeta: metav1.ObjectMeta{Name: "everyone"},
		Spec: accessv1alpha1.ClusterProviderConfigSpec{ProviderConfigSpec: hostupSpec("", "k"), CredentialsNamespace: "vault",
			NamespaceSelector: &metav1.LabelSelector{}}}
	listOnly := &accessv1alpha1.ClusterProviderConfig{ObjectMeta: metav1.ObjectMeta{Name: "list-only"},
		Spec: accessv1alpha1.ClusterProviderConfigSpec{ProviderConfigSpec: hostupSpec("", "k"), Namespaces: []string{"listed"}}}
	broken := &accessv1alpha1.ClusterProviderConfig{ObjectMeta: metav1.ObjectMeta{Name: "broken"},
		Spec: accessv1alpha1.ClusterProviderConfigSpec{ProviderConfigSpec: hostupSpec("", "k"),
			NamespaceSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "team", Operator: "Bogus"}}}}}
	pc := &accessv1alpha1.ProviderConfig{ObjectMeta: metav1.ObjectMeta{Namespace: "web", Name: "own"}, Spec: hostupSpec("", "own-key")}
	kube := fake.NewClientBuilder().WithScheme(testScheme(t)).WithObjects(platform, everyone, listOnly, broken, pc,
		namespace("web", map[string]string{"team": "web"}), namespace("listed", nil), namespace("other", map[string]string{"team": "db"})).Build()
	r := Resolver{Kube: kube, ControllerNamespace: controllerNS}
	cpc := func(name string) accessv1alpha1.ProviderConfigReference {
		return accessv1alpha1.ProviderConfigReference{Kind: accessv1alpha1.KindClusterProviderConfig, Name: name}
	}
	cases := map[string]struct {
		ns         string
		ref        accessv1alpha1.ProviderConfigReference
		wantKey    string
		wantSecret string // namespace of the Secret
		reason     string // the outcome's reason when refused
		says       string
	}{
		"a ProviderConfig of the namespace (no kind)":          {ns: "web", ref: accessv1alpha1.ProviderConfigReference{Name: "own"}, wantKey: "ProviderConfig web/own", wantSecret: "web"},
		"a ProviderConfig by its explicit kind":                {ns: "web", ref: accessv1alpha1.ProviderConfigReference{Kind: accessv1alpha1.KindProviderConfig, Name: "own"}, wantKey: "ProviderConfig web/own", wantSecret: "web"},
		"another namespace's ProviderConfig is invisible":      {ns: "other", ref: accessv1alpha1.ProviderConfigReference{Name: "own"}, reason: accessv1alpha1.ReasonProviderConfigNotFound, says: `not found in namespace "other"`},
		"a ClusterProviderConfig by label":                     {ns: "web", ref: cpc("platform"), wantKey: "ClusterProviderConfig platform", wantSecret: controllerNS},
		"a ClusterProviderConfig by name":                      {ns: "listed", ref: cpc("platform"), wantKey: "ClusterProviderConfig platform", wantSecret: controllerNS},
		"a namespace neither listed nor selected":              {ns: "other", ref: cpc("platform"), reason: accessv1alpha1.ReasonNamespaceNotAllowed, says: `does not allow namespace "other"`},
		"an empty selector allows every namespace":             {ns: "other", ref: cpc("everyone"), wantKey: "ClusterProviderConfig everyone", wantSecret: "vault"},
		"no selector allows only the listed namespaces":        {ns: "web", ref: cpc("list-only"), reason: accessv1alpha1.ReasonNamespaceNotAllowed},
		"an invalid selector allows nobody":                    {ns: "web", ref: cpc("broken"), reason: accessv1alpha1.ReasonNamespaceNotAllowed, says: "invalid namespaceSelector"},
		"a missing ClusterProviderConfig":                      {ns: "web", ref: cpc("nope"), reason: accessv1alpha1.ReasonProviderConfigNotFound, says: `ClusterProviderConfig "nope" not found`},
		"a ClusterProviderConfig name is not a ProviderConfig": {ns: "web", ref: accessv1alpha1.ProviderConfigReference{Name: "platform"}, reason: accessv1alpha1.ReasonProviderConfigNotFound},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c, err := r.Config(context.Background(), tc.ns, tc.ref)
			if tc.reason != "" {
				o := reconciler.Classify(err)
				if err == nil || o.Kind != reconciler.KindStalled || o.Reason != tc.reason || !strings.Contains(o.Message, tc.says) {
					t.Fatalf("want Stalled %s saying %q, got %v (%+v)", tc.reason, tc.says, err, o)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Key() != tc.wantKey || c.SecretNamespace != tc.wantSecret {
				t.Errorf("got %s with its Secret in %q, want %s in %q", c.Key(), c.SecretNamespace, tc.wantKey, tc.wantSecret)
			}
		})
	}
}

func TestResolverSecretFollowsTheOptInRules(t *testing.T) {
	cpc := &accessv1alpha1.ClusterProviderConfig{ObjectMeta: metav1.ObjectMeta{Name: "platform"},
		Spec: accessv1alpha1.ClusterProviderConfigSpec{ProviderConfigSpec: hostupSpec("", "platform-key"), NamespaceSelector: &metav1.LabelSelector{}}}
	unlabelled := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: controllerNS, Name: "platform-key"}, Data: map[string][]byte{"apiKey": []byte("k")}}
	sameNameElsewhere := labelledSecret("web", "platform-key", "k")
	kube := fake.NewClientBuilder().WithScheme(testScheme(t)).WithObjects(cpc, unlabelled, sameNameElsewhere, namespace("web", nil)).Build()
	r := Resolver{Kube: kube, Secrets: SecretReader{Metadata: kube}, ControllerNamespace: controllerNS}
	_, _, err := r.Resolve(context.Background(), "web", accessv1alpha1.ProviderConfigReference{Kind: accessv1alpha1.KindClusterProviderConfig, Name: "platform"})
	if o := reconciler.Classify(err); o.Reason != accessv1alpha1.ReasonSecretNotLabeled || !strings.Contains(o.Message, controllerNS) {
		t.Fatalf("an unlabelled Secret in the controller's namespace must not be read (nor one of the object's namespace used instead): %+v", o)
	}
	if _, err := (Resolver{Kube: kube}).Secret(context.Background(), ConfigOf(cpc, "")); reconciler.Classify(err).Reason != accessv1alpha1.ReasonInvalidSpec {
		t.Fatalf("no controller namespace and no credentialsNamespace: want InvalidSpec, got %v", err)
	}
	unlabelled.Labels = map[string]string{accessv1alpha1.LabelCredentials: "true"}
	if err := kube.Update(context.Background(), unlabelled); err != nil {
		t.Fatal(err)
	}
	_, s, err := r.Resolve(context.Background(), "web", accessv1alpha1.ProviderConfigReference{Kind: accessv1alpha1.KindClusterProviderConfig, Name: "platform"})
	if err != nil || s.Namespace != controllerNS {
		t.Fatalf("labelled: got %v, %v", s, err)
	}
}

func TestPoolSharesOneAccountConnection(t *testing.T) {
	const url = "https://cloud.hostup.se/api"
	pc := &accessv1alpha1.ProviderConfig{ObjectMeta: metav1.ObjectMeta{Namespace: "web", Name: "own", UID: "pc"}, Spec: hostupSpec(url, "key")}
	cpc := &accessv1alpha1.ClusterProviderConfig{ObjectMeta: metav1.ObjectMeta{Name: "platform", UID: "cpc"},
		Spec: accessv1alpha1.ClusterProviderConfigSpec{ProviderConfigSpec: hostupSpec(url, "key"), NamespaceSelector: &metav1.LabelSelector{}}}
	otherKey := &accessv1alpha1.ProviderConfig{ObjectMeta: metav1.ObjectMeta{Namespace: "db", Name: "own", UID: "other"}, Spec: hostupSpec(url, "key")}
	slower := &accessv1alpha1.ProviderConfig{ObjectMeta: metav1.ObjectMeta{Namespace: "slow", Name: "own", UID: "slow"}, Spec: hostupSpec(url, "key")}
	slower.Spec.RateLimit = &accessv1alpha1.RateLimit{RequestsPerSecond: 1}
	kube := fake.NewClientBuilder().WithScheme(testScheme(t)).WithObjects(
		labelledSecret("web", "key", "same"), labelledSecret(controllerNS, "key", "same"),
		labelledSecret("db", "key", "different"), labelledSecret("slow", "key", "same")).Build()
	p := &Pool{ControllerNamespace: controllerNS}
	ctx := context.Background()
	connect := func(obj client.Object) *Connection {
		t.Helper()
		c, err := p.ConnectConfig(ctx, kube, ConfigOf(obj, controllerNS))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a, b := connect(pc), connect(cpc)
	if !a.SharesAccountWith(b) {
		t.Error("a ProviderConfig and a ClusterProviderConfig with the same endpoint and key must share one connection (one limiter, one grant list)")
	}
	want := []ConfigRef{{Kind: accessv1alpha1.KindClusterProviderConfig, Name: "platform"}, {Kind: accessv1alpha1.KindProviderConfig, Namespace: "web", Name: "own"}}
	if got := p.SharingAccount(a); !slices.Equal(got, want) {
		t.Errorf("SharingAccount = %v, want %v", got, want)
	}
	if a.SharesAccountWith(connect(otherKey)) {
		t.Error("another key is another account")
	}
	if a.SharesAccountWith(connect(slower)) {
		t.Error("another rate limit is another connection (one limiter cannot keep two limits)")
	}
	if len(p.byAccount) != 3 {
		t.Errorf("want 3 account connections, got %d", len(p.byAccount))
	}
	p.Forget(ConfigOf(pc, controllerNS))
	if len(p.byAccount) != 3 {
		t.Error("the ClusterProviderConfig still uses the shared account")
	}
	p.Forget(ConfigOf(cpc, controllerNS))
	if len(p.byAccount) != 2 {
		t.Errorf("an account no config uses is dropped: %d left", len(p.byAccount))
	}
}

func TestPoolKeepsTheConnectionOfADeletingConfigWhoseSecretWent(t *testing.T) {
	pc := &accessv1alpha1.ProviderConfig{ObjectMeta: metav1.ObjectMeta{Namespace: "web", Name: "own", UID: "pc"}, Spec: hostupSpec("https://cloud.hostup.se/api", "key")}
	secret := labelledSecret("web", "key", "k")
	kube := fake.NewClientBuilder().WithScheme(testScheme(t)).WithObjects(secret).Build()
	p := &Pool{}
	ctx := context.Background()
	before, err := p.ConnectConfig(ctx, kube, ConfigOf(pc, ""))
	if err != nil {
		t.Fatal(err)
	}
	if err := kube.Delete(ctx, secret); err != nil {
		t.Fatal(err)
	}
	if _, err := p.ConnectConfig(ctx, kube, ConfigOf(pc, "")); reconciler.Classify(err).Reason != accessv1alpha1.ReasonSecretNotFound {
		t.Fatalf("a config in use without its Secret: want SecretNotFound, got %v", err)
	}
	deleting := pc.DeepCopy()
	now := metav1.Now()
	deleting.DeletionTimestamp = &now
	deleting.Generation++
	after, err := p.ConnectConfig(ctx, kube, ConfigOf(deleting, ""))
	if err != nil || after != before {
		t.Fatalf("a config being deleted keeps its connection for its dependants' deletion policy: %v", err)
	}
	p.Forget(ConfigOf(pc, ""))
	if _, err := p.ConnectConfig(ctx, kube, ConfigOf(deleting, "")); err == nil {
		t.Fatal("without a connection made earlier, nothing can be sent")
	}
}

func TestConfigReadyWhileDeleting(t *testing.T) {
	ready := func(observed int64) []metav1.Condition {
		return []metav1.Condition{{Type: accessv1alpha1.TypeReady, Status: metav1.ConditionTrue, ObservedGeneration: observed}}
	}
	cases := map[string]struct {
		generation, observed int64
		deleting, notReady   bool
		want                 bool
	}{
		"Ready for its generation":                        {generation: 1, observed: 1, want: true},
		"Ready for an older generation (a spec edit)":     {generation: 2, observed: 1, want: false},
		"being deleted: the bumped generation is no edit": {generation: 2, observed: 1, deleting: true, want: true},
		"being deleted and never Ready":                   {generation: 2, observed: 1, deleting: true, notReady: true, want: false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			pc := &accessv1alpha1.ProviderConfig{ObjectMeta: metav1.ObjectMeta{Name: "x", Generation: tc.generation}}
			pc.Status.Conditions = ready(tc.observed)
			if tc.notReady {
				pc.Status.Conditions[0].Status = metav1.ConditionFalse
			}
			if tc.deleting {
				now := metav1.Now()
				pc.DeletionTimestamp = &now
			}
			if got := ConfigOf(pc, "").Ready(); got != tc.want {
				t.Errorf("Ready() = %v, want %v", got, tc.want)
			}
		})
	}
}
