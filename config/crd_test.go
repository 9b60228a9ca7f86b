package config

import (
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	sigsyaml "sigs.k8s.io/yaml"
)

// generatedCRDs reads config/crd/bases, the output of `make manifests`.
func generatedCRDs(t *testing.T) []apiextensionsv1.CustomResourceDefinition {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("crd", "bases", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no CRDs in config/crd/bases: run `make manifests`")
	}
	var crds []apiextensionsv1.CustomResourceDefinition
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var crd apiextensionsv1.CustomResourceDefinition
		if err := sigsyaml.UnmarshalStrict(raw, &crd); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		crds = append(crds, crd)
	}
	return crds
}

// TestSchemaDescriptions fails on any schema property without a description, so that
// `kubectl explain` can teach every field. A property gets its description from the Go doc
// comment of its field (controller-gen); add one to the field in api/v1alpha1.
func TestSchemaDescriptions(t *testing.T) {
	for _, crd := range generatedCRDs(t) {
		for _, v := range crd.Spec.Versions {
			if v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
				t.Errorf("%s %s has no schema", crd.Name, v.Name)
				continue
			}
			var missing []string
			walkSchema(crd.Spec.Names.Kind, *v.Schema.OpenAPIV3Schema, func(path string, s apiextensionsv1.JSONSchemaProps) {
				if strings.TrimSpace(s.Description) == "" {
					missing = append(missing, path)
				}
			})
			sort.Strings(missing)
			for _, p := range missing {
				t.Errorf("%s %s: property %s has no description", crd.Name, v.Name, p)
			}
		}
	}
}

// walkSchema calls f for every property below s (not s itself), with its path.
func walkSchema(path string, s apiextensionsv1.JSONSchemaProps, f func(string, apiextensionsv1.JSONSchemaProps)) {
	for name, p := range s.Properties {
		child := path + "." + name
		if s.Type == "object" && !strings.Contains(path, ".") && name == "metadata" {
			// The top-level metadata is ObjectMeta; the API server serves its schema and
			// kubectl explain its documentation. controller-gen emits it bare.
			continue
		}
		f(child, p)
		walkSchema(child, p, f)
	}
	if s.Items != nil && s.Items.Schema != nil {
		walkSchema(path+"[]", *s.Items.Schema, f)
	}
	if s.AdditionalProperties != nil && s.AdditionalProperties.Schema != nil {
		walkSchema(path+"{}", *s.AdditionalProperties.Schema, f)
	}
}

// takenShortNames are short names (and a few plurals used as such) of kinds a cluster with
// common operators already serves. `kubectl get <short>` resolves to one resource only, so a
// collision makes our documented commands hit someone else's objects.
var takenShortNames = map[string]string{
	// Kubernetes itself
	"cs": "ComponentStatus", "cm": "ConfigMap", "ep": "Endpoints", "ev": "Event", "limits": "LimitRange",
	"ns": "Namespace", "no": "Node", "pvc": "PersistentVolumeClaim", "pv": "PersistentVolume",
	"po": "Pod", "rc": "ReplicationController", "quota": "ResourceQuota", "sa": "ServiceAccount",
	"svc": "Service", "crd": "CustomResourceDefinition", "crds": "CustomResourceDefinition",
	"ds": "DaemonSet", "deploy": "Deployment", "rs": "ReplicaSet", "sts": "StatefulSet",
	"hpa": "HorizontalPodAutoscaler", "cj": "CronJob", "csr": "CertificateSigningRequest",
	"ing": "Ingress", "netpol": "NetworkPolicy", "pdb": "PodDisruptionBudget", "pc": "PriorityClass",
	"sc": "StorageClass",
	// cert-manager
	"cert": "Certificate", "certs": "Certificate", "cr": "CertificateRequest", "crs": "CertificateRequest",
	// Crossplane
	"xrd": "CompositeResourceDefinition", "xrds": "CompositeResourceDefinition", "comp": "Composition",
	"comprev": "CompositionRevision", "pkgrev": "PackageRevision", "ec": "EnvironmentConfig",
	"usage": "Usage", "mrd": "ManagedResourceDefinition", "mrap": "ManagedResourceActivationPolicy",
	// Cluster API
	"cl": "Cluster", "cc": "ClusterClass", "ma": "Machine", "md": "MachineDeployment", "ms": "MachineSet",
	"mp": "MachinePool", "mhc": "MachineHealthCheck", "kcp": "KubeadmControlPlane", "kct": "KubeadmConfigTemplate",
	// OpenShift
	"ca": "ClusterAutoscaler (OpenShift)", "mc": "MachineConfig", "mcp": "MachineConfigPool",
	"co": "ClusterOperator", "is": "ImageStream", "istag": "ImageStreamTag", "bc": "BuildConfig",
	"dc": "DeploymentConfig", "scc": "SecurityContextConstraints",
	// OpenEBS
	"cspc": "CStorPoolCluster (OpenEBS)", "cspi": "CStorPoolInstance", "cvc": "CStorVolumeConfig",
	"cvr": "CStorVolumeReplica", "cv": "CStorVolume", "bd": "BlockDevice", "bdc": "BlockDeviceClaim",
	// Istio
	"vs": "VirtualService", "dr": "DestinationRule", "gw": "Gateway", "se": "ServiceEntry",
	"pa": "PeerAuthentication", "ra": "RequestAuthentication", "ap": "AuthorizationPolicy",
	"we": "WorkloadEntry", "wg": "WorkloadGroup", "ef": "EnvoyFilter", "tm": "Telemetry",
	// Argo CD, Argo Workflows, Argo Rollouts, Argo Events
	"app": "Application", "apps": "Application", "appproj": "AppProject", "appprojs": "AppProject",
	"appset": "ApplicationSet", "appsets": "ApplicationSet", "wf": "Workflow", "cwf": "ClusterWorkflowTemplate",
	"wftmpl": "WorkflowTemplate", "cwftmpl": "ClusterWorkflowTemplate", "cronwf": "CronWorkflow",
	"ro": "Rollout", "ar": "AnalysisRun", "at": "AnalysisTemplate", "cat": "ClusterAnalysisTemplate",
	"exp": "Experiment", "eb": "EventBus", "es": "EventSource", "sn": "Sensor",
	// widely used elsewhere (External Secrets, Gateway API)
	"ss": "SecretStore", "css": "ClusterSecretStore", "gtw": "Gateway (Gateway API)",
}

func TestShortNamesUnique(t *testing.T) {
	seen := map[string]string{}
	for _, crd := range generatedCRDs(t) {
		n := crd.Spec.Names
		if len(n.ShortNames) == 0 {
			t.Errorf("%s has no short name", n.Kind)
		}
		for _, s := range n.ShortNames {
			if other, ok := takenShortNames[s]; ok {
				t.Errorf("%s: short name %q is already %s's", n.Kind, s, other)
			}
			if other, ok := seen[s]; ok {
				t.Errorf("%s: short name %q is also %s's", n.Kind, s, other)
			}
			seen[s] = n.Kind
		}
		if !slices.Contains(n.Categories, "contactsync") {
			t.Errorf("%s is not in the category contactsync", n.Kind)
		}
	}
}

// TestPrinterColumns: `kubectl get` must show why an object is (not) Ready and which account
// and policy it runs under; a Ready=True Observe object with a pending plan, or a pending
// invitation, must not look converged.
func TestPrinterColumns(t *testing.T) {
	want := map[string]map[string]string{
		"ProviderConfig": {
			"Ready":  `.status.conditions[?(@.type=="Ready")].status`,
			"Reason": `.status.conditions[?(@.type=="Ready")].reason`,
		},
		"ContactAccess": {
			"Ready":          `.status.conditions[?(@.type=="Ready")].status`,
			"Reason":         `.status.conditions[?(@.type=="Ready")].reason`,
			"ProviderConfig": `.spec.providerConfigRef.name`,
			"Policy":         `.spec.managementPolicy`,
		},
		"DelegatedGrant": {
			"Ready":          `.status.conditions[?(@.type=="Ready")].status`,
			"Reason":         `.status.conditions[?(@.type=="Ready")].reason`,
			"ProviderConfig": `.spec.providerConfigRef.name`,
			"Policy":         `.spec.managementPolicy`,
		},
	}
	for _, crd := range generatedCRDs(t) {
		kind := crd.Spec.Names.Kind
		cols := map[string]apiextensionsv1.CustomResourceColumnDefinition{}
		for _, v := range crd.Spec.Versions {
			for _, c := range v.AdditionalPrinterColumns {
				cols[c.Name] = c
			}
		}
		for name, path := range want[kind] {
			c, ok := cols[name]
			switch {
			case !ok:
				t.Errorf("%s has no %s column", kind, name)
			case c.JSONPath != path:
				t.Errorf("%s column %s reads %s, want %s", kind, name, c.JSONPath, path)
			case c.Priority != 0:
				t.Errorf("%s column %s is only in -o wide (priority %d); it belongs in the default view", kind, name, c.Priority)
			}
		}
	}
}
