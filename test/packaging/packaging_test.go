package packaging

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/engine"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/contactsync/contactsync/hack/chartgen"
	"github.com/contactsync/contactsync/test/dryrun"
)

const root = "../.."

func kustomizeBin(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("KUSTOMIZE")
	if bin == "" {
		bin = filepath.Join(root, "bin", "kustomize")
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("kustomize not found at %s: run `make kustomize` (make test does)", bin)
	}
	abs, err := filepath.Abs(bin)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// TestChartIsGenerated: dist/chart is exactly what `make helm-chart` writes from config/ now.
func TestChartIsGenerated(t *testing.T) {
	in, err := chartgen.Build(kustomizeBin(t), root)
	if err != nil {
		t.Fatal(err)
	}
	files, err := chartgen.Generate(in)
	if err != nil {
		t.Fatal(err)
	}
	diff, err := chartgen.Diff(filepath.Join(root, "dist", "chart"), files)
	if err != nil {
		t.Fatal(err)
	}
	if len(diff) > 0 {
		t.Errorf("dist/chart is stale (run `make helm-chart` and commit the result): %v", diff)
	}
}

// renderChart renders dist/chart with Helm's engine, as `helm template` would.
func renderChart(t *testing.T, namespace string, values map[string]any) ([]*unstructured.Unstructured, error) {
	t.Helper()
	chrt, err := loader.Load(filepath.Join(root, "dist", "chart"))
	if err != nil {
		t.Fatal(err)
	}
	vals, err := util.ToRenderValues(chrt, values, common.ReleaseOptions{Name: "contactsync", Namespace: namespace, IsInstall: true, Revision: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	out, err := engine.Render(chrt, vals)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(out))
	for n := range out {
		names = append(names, n)
	}
	sort.Strings(names)
	var objs []*unstructured.Unstructured
	for _, n := range names {
		if !strings.HasSuffix(n, ".yaml") {
			continue
		}
		docs, err := dryrun.Parse([]byte(out[n]))
		if err != nil {
			t.Fatalf("%s does not parse: %v\n%s", n, err, out[n])
		}
		objs = append(objs, docs...)
	}
	return objs, nil
}

func installer(t *testing.T, img string) []*unstructured.Unstructured {
	t.Helper()
	cmd := exec.Command(filepath.Join(root, "hack", "build-installer.sh"), img, "-")
	cmd.Env = append(os.Environ(), "KUSTOMIZE="+kustomizeBin(t))
	out, err := cmd.Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("hack/build-installer.sh: %v\n%s", err, msg)
	}
	objs, err := dryrun.Parse(out)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func byKey(objs []*unstructured.Unstructured) map[string]*unstructured.Unstructured {
	m := map[string]*unstructured.Unstructured{}
	for _, o := range objs {
		m[o.GetKind()+"/"+o.GetNamespace()+"/"+o.GetName()] = o
	}
	return m
}

// TestChartDefaultsAreTheInstaller: with default values in namespace contactsync-system, the
// chart renders the objects of `make build-installer` (less the Namespace, which Helm leaves to
// --create-namespace), apart from Helm's own labels and the CRDs' keep annotation.
func TestChartDefaultsAreTheInstaller(t *testing.T) {
	chart, err := renderChart(t, chartgen.InstallNamespace, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := byKey(installer(t, "contactsync:dev"))
	got := byKey(chart)
	for k, o := range want {
		if o.GetKind() == "Namespace" {
			delete(want, k)
		}
	}
	for k, o := range got {
		labels := o.GetLabels()
		for _, l := range []string{"helm.sh/chart", "app.kubernetes.io/managed-by", "app.kubernetes.io/instance"} {
			if _, ok := labels[l]; !ok {
				t.Errorf("%s lacks the label %s", k, l)
			}
			delete(labels, l)
		}
		if len(labels) == 0 {
			labels = nil
		}
		o.SetLabels(labels)
		if o.GetKind() == "CustomResourceDefinition" {
			a := o.GetAnnotations()
			if a["helm.sh/resource-policy"] != "keep" {
				t.Errorf("%s is not kept on helm uninstall (helm.sh/resource-policy: keep)", k)
			}
			delete(a, "helm.sh/resource-policy")
			o.SetAnnotations(a)
		}
	}
	if diff := cmp.Diff(keys(want), keys(got)); diff != "" {
		t.Fatalf("chart and installer hold different objects (-installer +chart):\n%s", diff)
	}
	for k := range want {
		if diff := cmp.Diff(want[k].Object, got[k].Object); diff != "" {
			t.Errorf("%s differs (-installer +chart):\n%s", k, diff)
		}
	}
}

func keys(m map[string]*unstructured.Unstructured) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

var custom = map[string]any{
	"image":        map[string]any{"repository": "registry.example.com/contactsync", "tag": "v1.2.3", "pullPolicy": "Always"},
	"replicaCount": 2,
	"resources":    map[string]any{"requests": map[string]any{"cpu": "100m", "memory": "128Mi"}, "limits": map[string]any{"memory": "512Mi"}},
	"goMemLimit":   "460MiB",
	"manager": map[string]any{
		"hostupAllowedHosts": "cloud.hostup.se,api.hostup.example", "maxConcurrentReconciles": 8,
		"logLevel": "debug", "extraArgs": []any{"--onlyoffice-allowed-hosts=office.example.com"},
	},
	"leaderElection":             map[string]any{"enabled": true, "namespace": "leases"},
	"inviteTokenWriter":          map[string]any{"namespaces": []any{"team-a", "team-b"}},
	"protectedAnnotationsPolicy": map[string]any{"enabled": false},
	"nodeSelector":               map[string]any{"kubernetes.io/os": "linux"},
	// The PrometheusRule needs the Prometheus Operator's CRD, which envtest lacks:
	// TestAlertRules and TestChartMonitoring check it instead.
	"grafanaDashboard": map[string]any{"enabled": true},
}

// TestChartValues: the values reach the objects.
func TestChartValues(t *testing.T) {
	objs, err := renderChart(t, "platform", custom)
	if err != nil {
		t.Fatal(err)
	}
	m := byKey(objs)
	d := m["Deployment/platform/contactsync-controller-manager"]
	if d == nil {
		t.Fatalf("no Deployment in the release namespace: %v", keys(m))
	}
	if r, _, _ := unstructured.NestedInt64(d.Object, "spec", "replicas"); r != 2 {
		t.Errorf("replicas = %d", r)
	}
	cs, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "containers")
	c := cs[0].(map[string]any)
	if c["image"] != "registry.example.com/contactsync:v1.2.3" || c["imagePullPolicy"] != "Always" {
		t.Errorf("image %v, pull policy %v", c["image"], c["imagePullPolicy"])
	}
	var args []string
	for _, a := range c["args"].([]any) {
		args = append(args, a.(string))
	}
	for _, a := range []string{"--leader-elect", "--leader-election-namespace=leases", "--metrics-secure",
		"--hostup-allowed-hosts=cloud.hostup.se,api.hostup.example", "--max-concurrent-reconciles=8",
		"--zap-log-level=debug", "--onlyoffice-allowed-hosts=office.example.com"} {
		if !slices.Contains(args, a) {
			t.Errorf("args %v lack %s", args, a)
		}
	}
	if slices.Contains(args, "--allow-insecure-http") {
		t.Error("--allow-insecure-http is on by default")
	}
	if mem, _, _ := unstructured.NestedString(c, "resources", "limits", "memory"); mem != "512Mi" {
		t.Errorf("memory limit %q", mem)
	}
	if env := c["env"].([]any)[0].(map[string]any); env["value"] != "460MiB" {
		t.Errorf("GOMEMLIMIT %v", env["value"])
	}
	if sel, _, _ := unstructured.NestedStringMap(d.Object, "spec", "template", "spec", "nodeSelector"); sel["kubernetes.io/os"] != "linux" {
		t.Errorf("nodeSelector %v", sel)
	}
	for _, ns := range []string{"team-a", "team-b"} {
		rb := m["RoleBinding/"+ns+"/contactsync-invite-token-writer"]
		if m["Role/"+ns+"/contactsync-invite-token-writer"] == nil || rb == nil {
			t.Fatalf("no invite-token writer in %s: %v", ns, keys(m))
		}
		subjects, _, _ := unstructured.NestedSlice(rb.Object, "subjects")
		if sns := subjects[0].(map[string]any)["namespace"]; sns != "platform" {
			t.Errorf("invite-token writer in %s binds the ServiceAccount of namespace %v", ns, sns)
		}
	}
	for k := range m {
		if strings.HasPrefix(k, "ValidatingAdmissionPolicy") {
			t.Errorf("%s rendered with protectedAnnotationsPolicy.enabled false", k)
		}
	}
	// The policy exempts the controller's ServiceAccount of the release namespace.
	def, err := renderChart(t, "platform", nil)
	if err != nil {
		t.Fatal(err)
	}
	p := byKey(def)["ValidatingAdmissionPolicy//contactsync-protected-annotations"]
	if p == nil {
		t.Fatal("no protected-annotations policy by default")
	}
	if conds, _, _ := unstructured.NestedSlice(p.Object, "spec", "matchConditions"); !strings.Contains(conds[0].(map[string]any)["expression"].(string),
		"system:serviceaccount:platform:contactsync-controller-manager") {
		t.Errorf("the policy does not exempt the release's ServiceAccount: %v", conds[0])
	}

	single := map[string]any{"replicaCount": 3, "leaderElection": map[string]any{"enabled": false}}
	if _, err := renderChart(t, "platform", single); err == nil || !strings.Contains(err.Error(), "leaderElection") {
		t.Errorf("3 replicas without leader election rendered (err %v)", err)
	}
	noCRDs, err := renderChart(t, "platform", map[string]any{"crds": map[string]any{"enabled": false}})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range noCRDs {
		if o.GetKind() == "CustomResourceDefinition" {
			t.Errorf("crds.enabled false still renders %s", o.GetName())
		}
	}
}

// TestInstallerAndChartApply: the installer and the chart (defaults and custom values) are
// accepted by a real API server, with server-side dry run.
func TestInstallerAndChartApply(t *testing.T) {
	c := dryrun.Start(t)
	ctx := context.Background()
	apply := func(what string, objs []*unstructured.Unstructured) {
		t.Helper()
		kinds := map[string]int{}
		for _, o := range objs {
			kinds[o.GetKind()]++
		}
		if kinds["CustomResourceDefinition"] == 0 && what != "chart without CRDs" || kinds["Deployment"] != 1 {
			t.Errorf("%s: unexpected objects %v", what, kinds)
		}
		for _, err := range dryrun.Apply(ctx, c, "default", objs) {
			t.Errorf("%s: %v", what, err)
		}
	}
	apply("installer", installer(t, "registry.example.com/contactsync:v1.2.3"))
	for name, values := range map[string]map[string]any{"chart defaults": nil, "chart custom values": custom} {
		objs, err := renderChart(t, "contactsync-helm", values)
		if err != nil {
			t.Fatal(err)
		}
		apply(name, objs)
	}
	// Nothing was persisted but the namespaces.
	var crds unstructured.UnstructuredList
	crds.SetAPIVersion("apiextensions.k8s.io/v1")
	crds.SetKind("CustomResourceDefinitionList")
	if err := c.List(ctx, &crds, client.MatchingLabels{}); err != nil {
		t.Fatal(err)
	}
	if len(crds.Items) != 0 {
		t.Errorf("dry run persisted %d CRDs", len(crds.Items))
	}
}
