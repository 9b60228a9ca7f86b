package connection

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	accessv1alpha1 "github.com/contactsync/contactsync/api/v1alpha1"
	"github.com/contactsync/contactsync/internal/reconciler"
)

// SecretReader is the one way the controller reads a Secret: only from the object's own
// namespace, and only a Secret labelled access.contactsync.dev/credentials: "true". The
// manager's cache holds only such Secrets (controllers.CacheOptions), as External Secrets
// Operator and Flux also stopped caching every Secret of the cluster; an unlabelled Secret's
// value is never read, and its existence is checked with a metadata-only request so the
// condition can say which label to add.
type SecretReader struct {
	// Cached reads through the manager's cache (labelled Secrets only).
	Cached client.Reader
	// Metadata reads uncached; used only for PartialObjectMetadata (never a Secret's data).
	// Nil skips the check (the condition then says "not found").
	Metadata client.Reader
}

// Get returns the labelled Secret ns/name, or an error carrying the outcome to report.
func (r SecretReader) Get(ctx context.Context, ns, name, purpose string) (*corev1.Secret, error) {
	s := &corev1.Secret{}
	err := r.Cached.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, s)
	switch {
	case err == nil && s.Labels[accessv1alpha1.LabelCredentials] == "true":
		return s, nil
	case err == nil:
		return nil, notLabelled(ns, name)
	case !apierrors.IsNotFound(err):
		return nil, fmt.Errorf("cannot get Secret %s/%s: %w", ns, name, err)
	}
	if r.Metadata != nil {
		m := &metav1.PartialObjectMetadata{}
		m.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
		if err := r.Metadata.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, m); err == nil {
			return nil, notLabelled(ns, name)
		}
	}
	return nil, reconciler.Fail(reconciler.Stalled(accessv1alpha1.ReasonSecretNotFound,
		fmt.Sprintf("Secret %q not found in namespace %q: create it with %s and the label %s: \"true\"", name, ns, purpose, accessv1alpha1.LabelCredentials), false))
}

func notLabelled(ns, name string) error {
	return reconciler.Fail(reconciler.Stalled(accessv1alpha1.ReasonSecretNotLabeled, fmt.Sprintf(
		"Secret %q in namespace %q is not opted in: contactsync reads only Secrets labelled %s: \"true\" (its value was not read). Add it: kubectl -n %s label secret %s %s=true",
		name, ns, accessv1alpha1.LabelCredentials, ns, name, accessv1alpha1.LabelCredentials), false))
}
