package config

import (
	"strings"
	"testing"

	sigsyaml "sigs.k8s.io/yaml"
)

// TestUndeployKeepsTheCRDs: `make undeploy` deletes config/controller, which must hold every
// object of config/default except the CRDs (deleting a CRD deletes every object of its kind,
// whose finalizers then revoke access in the providers).
func TestUndeployKeepsTheCRDs(t *testing.T) {
	type meta struct {
		Kind     string `json:"kind"`
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
	}
	keys := func(dir string) map[string]bool {
		out := map[string]bool{}
		for _, d := range kustomizeBuild(t, dir) {
			var m meta
			must(t, sigsyaml.Unmarshal(d, &m))
			out[m.Kind+"/"+m.Metadata.Name] = true
		}
		return out
	}
	all, controller := keys("default"), keys("controller")
	crds := 0
	for k := range all {
		isCRD := strings.HasPrefix(k, "CustomResourceDefinition/")
		if isCRD {
			crds++
		}
		switch {
		case isCRD && controller[k]:
			t.Errorf("make undeploy would delete %s", k)
		case !isCRD && !controller[k]:
			t.Errorf("make undeploy would leave %s behind", k)
		}
	}
	if crds == 0 || len(controller) != len(all)-crds {
		t.Errorf("config/default has %d objects (%d CRDs), config/controller %d", len(all), crds, len(controller))
	}
}
