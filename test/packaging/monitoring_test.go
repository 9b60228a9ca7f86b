package packaging

import (
	"encoding/json"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/contactsync/contactsync/test/dryrun"
)

// registered are the metrics docs/metrics.md names. docs/docs_test.go checks, in the main
// module, that each of them is registered by the manager and that the file names every
// contactsync_ metric the manager registers; reading the file here keeps the manager's code
// (and its build) out of this module.
func registered(t *testing.T) map[string]bool {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(root, "docs", "metrics.md"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, m := range regexp.MustCompile("`((?:contactsync|controller_runtime|workqueue)_[a-z_]+)").FindAllStringSubmatch(string(raw), -1) {
		out[m[1]] = true
	}
	if !out["contactsync_object_condition"] || !out["controller_runtime_reconcile_total"] {
		t.Fatalf("docs/metrics.md does not name contactsync_object_condition and controller_runtime_reconcile_total: %v", out)
	}
	return out
}

// checkExpr parses a PromQL expression and fails on any metric the manager does not serve.
func checkExpr(t *testing.T, where, expr string, metrics map[string]bool) {
	t.Helper()
	e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		t.Errorf("%s: %q does not parse: %v", where, expr, err)
		return
	}
	n := 0
	parser.Inspect(e, func(node parser.Node, _ []parser.Node) error {
		if vs, ok := node.(*parser.VectorSelector); ok {
			n++
			name := vs.Name
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				if base, ok := strings.CutSuffix(name, suffix); ok && metrics[base] {
					name = base
				}
			}
			if !metrics[name] {
				t.Errorf("%s: %q uses %s, which docs/metrics.md does not name (so the manager does not serve it)", where, expr, vs.Name)
			}
		}
		return nil
	})
	if n == 0 {
		t.Errorf("%s: %q reads no metric", where, expr)
	}
}

func kustomizeBuild(t *testing.T, dir string) []byte {
	t.Helper()
	out, err := exec.Command(kustomizeBin(t), "build", filepath.Join(root, dir)).Output()
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	return out
}

// TestAlertRules: the PrometheusRule's groups are a valid Prometheus rule file (the checks
// `promtool check rules` makes, through the same package), every expression reads metrics
// the manager serves, and the alerts the docs promise are there.
func TestAlertRules(t *testing.T) {
	objs, err := dryrun.Parse(kustomizeBuild(t, "config/optional/prometheus-rule"))
	if err != nil || len(objs) != 1 || objs[0].GetKind() != "PrometheusRule" {
		t.Fatalf("want one PrometheusRule, got %d objects (%v)", len(objs), err)
	}
	spec, err := sigsyaml.Marshal(objs[0].Object["spec"])
	if err != nil {
		t.Fatal(err)
	}
	groups, errs := rulefmt.Parse(spec, false, model.UTF8Validation, parser.NewParser(parser.Options{}), slog.New(slog.DiscardHandler))
	for _, err := range errs {
		t.Errorf("rule file: %v", err)
	}
	if groups == nil {
		t.FailNow()
	}
	metrics := registered(t)
	alerts := map[string]rulefmt.Rule{}
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			checkExpr(t, "alert "+r.Alert, r.Expr, metrics)
			alerts[r.Alert] = r
		}
	}
	for name, minFor := range map[string]time.Duration{
		"ContactsyncObjectStalled": 15 * time.Minute, "ContactsyncCredentialsRejected": 0, "ContactsyncProviderRateLimited": 30 * time.Minute,
	} {
		r, ok := alerts[name]
		if !ok {
			t.Errorf("no alert %s", name)
			continue
		}
		if time.Duration(r.For) < minFor {
			t.Errorf("alert %s fires after %v, want at least %v", name, time.Duration(r.For), minFor)
		}
		if r.Annotations["summary"] == "" || r.Labels["severity"] == "" {
			t.Errorf("alert %s lacks a summary or a severity", name)
		}
	}
}

// TestDashboardQueries: the Grafana dashboard is JSON whose every query parses and reads
// metrics the manager serves.
func TestDashboardQueries(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(root, "config", "optional", "grafana-dashboard", "contactsync-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		UID    string `json:"uid"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatal(err)
	}
	metrics := registered(t)
	n := 0
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			n++
			checkExpr(t, "panel "+p.Title, tg.Expr, metrics)
		}
	}
	if n < 5 || dash.UID == "" {
		t.Errorf("dashboard %q has %d queries", dash.UID, n)
	}
	for _, want := range []string{"contactsync_object_condition", "contactsync_drift_corrections_total", "contactsync_invite_expiry_timestamp_seconds"} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("the dashboard shows no %s", want)
		}
	}
}

// TestChartMonitoring: the chart renders the rule and the dashboard on request, with their own
// braces intact and the labels a selector needs.
func TestChartMonitoring(t *testing.T) {
	objs, err := renderChart(t, "monitoring", map[string]any{
		"prometheusRule":   map[string]any{"enabled": true, "labels": map[string]any{"release": "kube-prometheus-stack"}},
		"grafanaDashboard": map[string]any{"enabled": true},
	})
	if err != nil {
		t.Fatal(err)
	}
	m := byKey(objs)
	rule := m["PrometheusRule/monitoring/contactsync"]
	if rule == nil {
		t.Fatalf("no PrometheusRule: %v", keys(m))
	}
	if rule.GetLabels()["release"] != "kube-prometheus-stack" {
		t.Errorf("PrometheusRule labels %v", rule.GetLabels())
	}
	want, err := dryrun.Parse(kustomizeBuild(t, "config/optional/prometheus-rule"))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(rule.Object["spec"])
	wantSpec, _ := json.Marshal(want[0].Object["spec"])
	if string(got) != string(wantSpec) {
		t.Errorf("the chart's rule differs from config/optional/prometheus-rule:\n%s\n%s", got, wantSpec)
	}
	cm := m["ConfigMap/monitoring/contactsync-dashboard"]
	if cm == nil {
		t.Fatalf("no dashboard ConfigMap: %v", keys(m))
	}
	file, err := os.ReadFile(filepath.Join(root, "config", "optional", "grafana-dashboard", "contactsync-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	data, _ := cm.Object["data"].(map[string]any)
	if data["contactsync-dashboard.json"] != string(file) {
		t.Error("the chart's dashboard differs from contactsync-dashboard.json")
	}
	if cm.GetLabels()["grafana_dashboard"] != "1" {
		t.Errorf("dashboard labels %v", cm.GetLabels())
	}
	def, err := renderChart(t, "monitoring", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range def {
		if o.GetKind() == "PrometheusRule" || o.GetKind() == "ConfigMap" {
			t.Errorf("%s %s rendered by default", o.GetKind(), o.GetName())
		}
	}
}
