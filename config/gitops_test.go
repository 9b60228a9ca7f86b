package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/cel-go/cel"
	sigsyaml "sigs.k8s.io/yaml"
)

// The Argo CD Helm values carry the health script once per kind, as the argocd-cm patch does;
// every copy must equal health.lua.
func TestArgoCDHelmValuesCarryTheScript(t *testing.T) {
	script, err := os.ReadFile(filepath.Join("argocd", "health.lua"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join("argocd", "argocd-helm-values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var values struct {
		Configs struct {
			CM map[string]string `json:"cm"`
		} `json:"configs"`
	}
	if err := sigsyaml.UnmarshalStrict(raw, &values); err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{"ProviderConfig", "ClusterProviderConfig", "ContactAccess", "DelegatedGrant"} {
		key := "resource.customizations.health.access.contactsync.dev_" + kind
		if strings.TrimSpace(values.Configs.CM[key]) != strings.TrimSpace(string(script)) {
			t.Errorf("configs.cm[%s] differs from health.lua", key)
		}
	}
	if len(values.Configs.CM) != 4 {
		t.Errorf("configs.cm has %d keys, want 4", len(values.Configs.CM))
	}
}

// TestFluxHealthCheckExprs evaluates the healthCheckExprs of config/flux with cel-go the way
// Flux does (the object's top-level fields are the variables; inProgress, then failed, then
// current; none true means in progress) on objects in each state contactsync produces.
func TestFluxHealthCheckExprs(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("flux", "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	type expr struct {
		Kind                        string
		InProgress, Failed, Current string
	}
	var exprs []expr
	kinds := map[string]bool{}
	for _, doc := range strings.Split(string(raw), "\n---\n") {
		var ks struct {
			Spec struct {
				HealthCheckExprs []expr `json:"healthCheckExprs"`
			} `json:"spec"`
		}
		if err := sigsyaml.Unmarshal([]byte(doc), &ks); err != nil {
			t.Fatal(err)
		}
		for _, e := range ks.Spec.HealthCheckExprs {
			kinds[e.Kind] = true
		}
		exprs = append(exprs, ks.Spec.HealthCheckExprs...)
	}
	for _, k := range []string{"ProviderConfig", "ClusterProviderConfig", "ContactAccess", "DelegatedGrant"} {
		if !kinds[k] {
			t.Errorf("no healthCheckExprs for %s", k)
		}
	}
	env, err := cel.NewEnv(cel.OptionalTypes(), cel.Variable("metadata", cel.DynType), cel.Variable("status", cel.DynType), cel.Variable("spec", cel.DynType))
	if err != nil {
		t.Fatal(err)
	}
	cond := func(typ, status string, gen int) map[string]any {
		return map[string]any{"type": typ, "status": status, "observedGeneration": gen}
	}
	all := func(gen int, ready, reconciling, stalled string) map[string]any {
		return map[string]any{"observedGeneration": gen, "conditions": []any{
			cond("Ready", ready, gen), cond("Synced", "True", gen), cond("Reconciling", reconciling, gen), cond("Stalled", stalled, gen)}}
	}
	cases := map[string]struct {
		status map[string]any
		want   string
	}{
		"no status yet":               {map[string]any{}, "InProgress"},
		"older generation":            {all(1, "True", "False", "False"), "InProgress"},
		"ready":                       {all(2, "True", "False", "False"), "Current"},
		"reconciling":                 {all(2, "False", "True", "False"), "InProgress"},
		"retrying while ready":        {all(2, "True", "True", "False"), "InProgress"},
		"stalled":                     {all(2, "False", "False", "True"), "Failed"},
		"not ready, nothing declared": {map[string]any{"observedGeneration": 2, "conditions": []any{cond("Ready", "False", 2)}}, "InProgress"},
	}
	for _, e := range exprs {
		var progs []cel.Program
		for _, src := range []string{e.InProgress, e.Failed, e.Current} {
			ast, iss := env.Compile(src)
			if iss.Err() != nil {
				t.Fatalf("%s: %q: %v", e.Kind, src, iss.Err())
			}
			p, err := env.Program(ast)
			if err != nil {
				t.Fatal(err)
			}
			progs = append(progs, p)
		}
		for name, tc := range cases {
			vars := map[string]any{"metadata": map[string]any{"generation": 2}, "status": tc.status, "spec": map[string]any{}}
			got := "InProgress"
			for i, result := range []string{"InProgress", "Failed", "Current"} {
				out, _, err := progs[i].Eval(vars)
				if err != nil {
					t.Fatalf("%s, %s: %s: %v", e.Kind, name, result, err)
				}
				if out.Value() == true {
					got = result
					break
				}
			}
			if got != tc.want {
				t.Errorf("%s, %s: %s, want %s", e.Kind, name, got, tc.want)
			}
		}
	}
}
