// Package config holds the kustomize bases; this test checks what `kustomize build
// config/default` produces, the way a cluster admin reviewing it would.
package config

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	admissionv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/util/yaml"
	sigsyaml "sigs.k8s.io/yaml"
)

// kustomizeBuild runs the pinned kustomize (installed by `make kustomize`, which `make test`
// runs first) on dir.
func kustomizeBuild(t *testing.T, dir string) [][]byte {
	t.Helper()
	bin := os.Getenv("KUSTOMIZE")
	if bin == "" {
		bin = filepath.Join("..", "bin", "kustomize")
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("kustomize not found at %s: run `make kustomize` (make test does)", bin)
	}
	var out, errOut bytes.Buffer
	cmd := exec.Command(bin, "build", dir)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("kustomize build %s: %v\n%s", dir, err, errOut.String())
	}
	var docs [][]byte
	r := yaml.NewYAMLReader(bufioReader(&out))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(bytes.TrimSpace(doc)) > 0 {
			docs = append(docs, doc)
		}
	}
	return docs
}

type typeMeta struct {
	Kind string `json:"kind"`
}

func TestDefaultInstall(t *testing.T) {
	docs := kustomizeBuild(t, "default")
	var (
		deploy   *appsv1.Deployment
		services []corev1.Service
		roles    []rbacv1.PolicyRule
		kinds    = map[string]int{}
		policies []string
		bound    []string
	)
	for _, d := range docs {
		var tm typeMeta
		if err := sigsyaml.Unmarshal(d, &tm); err != nil {
			t.Fatal(err)
		}
		kinds[tm.Kind]++
		switch tm.Kind {
		case "Deployment":
			deploy = &appsv1.Deployment{}
			must(t, sigsyaml.Unmarshal(d, deploy))
		case "Service":
			var s corev1.Service
			must(t, sigsyaml.Unmarshal(d, &s))
			services = append(services, s)
		case "ClusterRole", "Role":
			var r rbacv1.ClusterRole
			must(t, sigsyaml.Unmarshal(d, &r))
			roles = append(roles, r.Rules...)
		case "ValidatingAdmissionPolicy":
			var p admissionv1.ValidatingAdmissionPolicy
			must(t, sigsyaml.Unmarshal(d, &p))
			policies = append(policies, p.Name)
		case "ValidatingAdmissionPolicyBinding":
			var b admissionv1.ValidatingAdmissionPolicyBinding
			must(t, sigsyaml.Unmarshal(d, &b))
			bound = append(bound, b.Spec.PolicyName)
		}
	}
	// kustomize's namePrefix does not rewrite policyName: the binding must name the prefixed policy.
	if len(policies) != 1 || len(bound) != 1 || policies[0] != bound[0] {
		t.Errorf("protected-annotations policy %v and its binding's policyName %v must match", policies, bound)
	}
	var sa corev1.ServiceAccount
	for _, d := range docs {
		var tm typeMeta
		must(t, sigsyaml.Unmarshal(d, &tm))
		if tm.Kind == "ServiceAccount" {
			must(t, sigsyaml.Unmarshal(d, &sa))
		}
	}
	for _, d := range docs {
		if bytes.Contains(d, []byte("kind: ValidatingAdmissionPolicy\n")) &&
			!bytes.Contains(d, []byte("system:serviceaccount:"+sa.Namespace+":"+sa.Name)) {
			t.Errorf("the policy does not exempt the controller's ServiceAccount %s/%s", sa.Namespace, sa.Name)
		}
	}
	if kinds["CustomResourceDefinition"] != 4 {
		t.Errorf("want the 4 CRDs, got %d", kinds["CustomResourceDefinition"])
	}
	if deploy == nil {
		t.Fatal("no Deployment in config/default")
	}
	if deploy.Namespace != "contactsync-system" {
		t.Errorf("Deployment namespace = %q", deploy.Namespace)
	}
	pod := deploy.Spec.Template.Spec
	if pod.SecurityContext == nil || pod.SecurityContext.RunAsNonRoot == nil || !*pod.SecurityContext.RunAsNonRoot {
		t.Error("pod securityContext.runAsNonRoot is not true")
	}
	if len(pod.Containers) != 1 {
		t.Fatalf("want one container, got %d", len(pod.Containers))
	}
	c := pod.Containers[0]
	if c.LivenessProbe == nil || c.LivenessProbe.HTTPGet == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" {
		t.Error("no /healthz liveness probe")
	}
	if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
		t.Error("no /readyz readiness probe")
	}
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if _, ok := c.Resources.Requests[r]; !ok {
			t.Errorf("no %s request", r)
		}
		if _, ok := c.Resources.Limits[r]; !ok && r == corev1.ResourceMemory {
			t.Errorf("no %s limit", r)
		}
	}
	sc := c.SecurityContext
	switch {
	case sc == nil:
		t.Fatal("container has no securityContext")
	case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
		t.Error("readOnlyRootFilesystem is not true")
	case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
		t.Error("allowPrivilegeEscalation is not false")
	case sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}):
		t.Error("capabilities do not drop ALL")
	}
	podNamespace := false
	for _, e := range c.Env {
		podNamespace = podNamespace || (e.Name == "POD_NAMESPACE" && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.namespace")
	}
	if !podNamespace {
		t.Error("no POD_NAMESPACE from metadata.namespace: ClusterProviderConfigs would find no credentials namespace")
	}
	if !slices.Contains(c.Args, "--leader-elect") {
		t.Errorf("leader election is off: args %v", c.Args)
	}
	metrics := false
	for _, s := range services {
		for _, p := range s.Spec.Ports {
			if p.Name == "metrics" {
				metrics = true
			}
		}
	}
	if !metrics {
		t.Error("no metrics Service")
	}

	// RBAC: least privilege, no wildcards, Secrets read-only.
	for _, r := range roles {
		for _, field := range [][]string{r.Verbs, r.Resources, r.APIGroups} {
			if slices.Contains(field, "*") {
				t.Errorf("wildcard in rule %+v", r)
			}
		}
		if slices.Contains(r.Resources, "secrets") {
			for _, v := range r.Verbs {
				if !slices.Contains([]string{"get", "list", "watch"}, v) {
					t.Errorf("Secrets must be read-only, rule grants %q", v)
				}
			}
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func bufioReader(r io.Reader) *bufio.Reader { return bufio.NewReader(r) }
