// Package dryrun applies manifests to an envtest API server with server-side dry run, the way
// `kubectl apply --server-side --dry-run=server` would: the API server validates them (schema,
// CEL rules, admission) and persists nothing. The docs test and the packaging tests use it.
package dryrun

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// Start runs an API server (the envtest binaries in KUBEBUILDER_ASSETS, which `make test`
// sets) with the CRDs of crdDirs installed, and stops it when the test ends.
func Start(t testing.TB, crdDirs ...string) client.Client {
	t.Helper()
	env := &envtest.Environment{CRDDirectoryPaths: crdDirs, ErrorIfCRDPathMissing: len(crdDirs) > 0}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("cannot start envtest: is KUBEBUILDER_ASSETS set? `make test` sets it via hack/envtest-bins.sh: %v", err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Parse splits a multi-document YAML stream into objects; empty documents are skipped.
func Parse(raw []byte) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	r := yaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(raw)))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(doc, &u.Object); err != nil {
			return nil, err
		}
		if len(u.Object) == 0 {
			continue
		}
		out = append(out, u)
	}
}

// Apply sends each object as a server-side apply with dry run. The namespaces the objects
// live in are created for real first when missing (a dry-run Namespace does not exist for the
// objects after it); namespaced objects without a namespace go to ns, and a cluster-scoped object that names a namespace is
// refused. It returns one error per
// refused object, naming it.
func Apply(ctx context.Context, c client.Client, ns string, objs []*unstructured.Unstructured) []error {
	var errs []error
	for _, o := range objs {
		o = o.DeepCopy()
		namespaced, err := c.IsObjectNamespaced(o)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s %s: %w", o.GetKind(), o.GetName(), err))
			continue
		}
		switch {
		case !namespaced && o.GetNamespace() != "":
			errs = append(errs, fmt.Errorf("%s %s is cluster-scoped but names namespace %s", o.GetKind(), o.GetName(), o.GetNamespace()))
			continue
		case namespaced && o.GetNamespace() == "":
			o.SetNamespace(ns)
		}
		if n := o.GetNamespace(); n != "" {
			err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: n}})
			if err != nil && !apierrors.IsAlreadyExists(err) {
				errs = append(errs, err)
				continue
			}
		}
		if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(o), client.DryRunAll,
			client.FieldOwner("contactsync-dryrun"), client.ForceOwnership); err != nil {
			errs = append(errs, fmt.Errorf("%s %s/%s: %w", o.GetKind(), o.GetNamespace(), o.GetName(), err))
		}
	}
	return errs
}
