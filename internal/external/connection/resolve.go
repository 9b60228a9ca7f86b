package connection

import (
	"context"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	accessv1alpha1 "github.com/contactsync/contactsync/api/v1alpha1"
	"github.com/contactsync/contactsync/internal/reconciler"
)

// Config is a ProviderConfig or a ClusterProviderConfig seen the same way: which account, whose
// Secret, and whether it is ready. It is what Resolver.Config returns for an object's
// spec.providerConfigRef, and what the Pool connects.
type Config struct {
	// Kind is accessv1alpha1.KindProviderConfig or accessv1alpha1.KindClusterProviderConfig.
	Kind string
	// Namespace of a ProviderConfig; empty for a ClusterProviderConfig.
	Namespace, Name string
	// Object is the *ProviderConfig or *ClusterProviderConfig itself.
	Object client.Object
	// Spec holds the provider blocks, rate limit and sync interval.
	Spec *accessv1alpha1.ProviderConfigSpec
	// Status is the config's status (conditions, identity, users).
	Status *accessv1alpha1.ProviderConfigStatus
	// SecretNamespace is where the credentials Secret is read: the ProviderConfig's own
	// namespace, or the ClusterProviderConfig's credentialsNamespace (default: the controller's).
	SecretNamespace string
}

// ConfigOf views a *ProviderConfig or *ClusterProviderConfig as a Config. controllerNamespace
// is where a ClusterProviderConfig that names no credentialsNamespace keeps its Secret.
func ConfigOf(obj client.Object, controllerNamespace string) *Config {
	switch o := obj.(type) {
	case *accessv1alpha1.ProviderConfig:
		return &Config{Kind: accessv1alpha1.KindProviderConfig, Namespace: o.Namespace, Name: o.Name, Object: o,
			Spec: &o.Spec, Status: &o.Status, SecretNamespace: o.Namespace}
	case *accessv1alpha1.ClusterProviderConfig:
		ns := o.Spec.CredentialsNamespace
		if ns == "" {
			ns = controllerNamespace
		}
		return &Config{Kind: accessv1alpha1.KindClusterProviderConfig, Name: o.Name, Object: o,
			Spec: &o.Spec.ProviderConfigSpec, Status: &o.Status, SecretNamespace: ns}
	}
	panic(fmt.Sprintf("connection.ConfigOf: %T is not a provider config", obj))
}

// Key names the config in the Pool and in messages: "ProviderConfig ns/name" or
// "ClusterProviderConfig name".
func (c *Config) Key() string {
	if c.Namespace == "" {
		return c.Kind + " " + c.Name
	}
	return c.Kind + " " + c.Namespace + "/" + c.Name
}

// Provider is the provider the config is for ("" when it sets neither block).
func (c *Config) Provider() Provider {
	switch {
	case c.Spec.HostUp != nil:
		return HostUp
	case c.Spec.OnlyOffice != nil:
		return OnlyOffice
	}
	return ""
}

// SecretName is the name of the credentials Secret ("" when the config sets no provider).
func (c *Config) SecretName() string {
	switch {
	case c.Spec.HostUp != nil:
		return c.Spec.HostUp.APIKeySecretRef.Name
	case c.Spec.OnlyOffice != nil:
		return c.Spec.OnlyOffice.CredentialsSecretRef.Name
	}
	return ""
}

// Deleting reports whether the config is being deleted (it stays while objects use it).
func (c *Config) Deleting() bool { return !c.Object.GetDeletionTimestamp().IsZero() }

// Ready reports whether the config verified its credentials for its current generation. A
// config being deleted keeps the Ready it had: deletion bumps the generation, and the objects
// that use it still need it to apply their deletion policy.
func (c *Config) Ready() bool {
	if c.Deleting() {
		r := meta.FindStatusCondition(c.Status.Conditions, accessv1alpha1.TypeReady)
		return r != nil && r.Status == metav1.ConditionTrue
	}
	return reconciler.IsReady(c.Status.Conditions, c.Object.GetGeneration())
}

// Resolver answers "which provider config does this object use": a ProviderConfig of the
// object's own namespace (never another's: no confused deputy), or a ClusterProviderConfig whose
// namespace selector allows the object's namespace; and it reads the config's credentials
// Secret under the opt-in rules (SecretReader). The controllers and the kubectl plugin use it.
type Resolver struct {
	// Kube reads ProviderConfigs, ClusterProviderConfigs and Namespaces.
	Kube client.Reader
	// Secrets reads the credentials Secret. A zero Cached reader defaults to Kube.
	Secrets SecretReader
	// ControllerNamespace holds the Secrets of ClusterProviderConfigs that name no
	// credentialsNamespace.
	ControllerNamespace string
}

// Config returns the config that ref names for an object in namespace ns. Every failure is an
// error carrying the outcome to report (reconciler.Classify): ProviderConfigNotFound and
// NamespaceNotAllowed stall; API errors are retried. Nothing is read from the provider.
func (r Resolver) Config(ctx context.Context, ns string, ref accessv1alpha1.ProviderConfigReference) (*Config, error) {
	if !ref.IsCluster() {
		pc := &accessv1alpha1.ProviderConfig{}
		if err := r.Kube.Get(ctx, types.NamespacedName{Namespace: ns, Name: ref.Name}, pc); err != nil {
			if apierrors.IsNotFound(err) {
				return nil, reconciler.Fail(reconciler.Stalled(accessv1alpha1.ReasonProviderConfigNotFound,
					fmt.Sprintf("ProviderConfig %q not found in namespace %q (objects can only use a ProviderConfig of their own namespace, or a ClusterProviderConfig with providerConfigRef.kind: ClusterProviderConfig)", ref.Name, ns), false))
			}
			return nil, reconciler.Fail(reconciler.Retrying(accessv1alpha1.ReasonAPIError, fmt.Sprintf("cannot get ProviderConfig %q: %v", ref.Name, err)))
		}
		return ConfigOf(pc, r.ControllerNamespace), nil
	}
	cpc := &accessv1alpha1.ClusterProviderConfig{}
	if err := r.Kube.Get(ctx, types.NamespacedName{Name: ref.Name}, cpc); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, reconciler.Fail(reconciler.Stalled(accessv1alpha1.ReasonProviderConfigNotFound,
				fmt.Sprintf("ClusterProviderConfig %q not found", ref.Name), false))
		}
		return nil, reconciler.Fail(reconciler.Retrying(accessv1alpha1.ReasonAPIError, fmt.Sprintf("cannot get ClusterProviderConfig %q: %v", ref.Name, err)))
	}
	nsObj := &corev1.Namespace{}
	if err := r.Kube.Get(ctx, types.NamespacedName{Name: ns}, nsObj); err != nil {
		return nil, reconciler.Fail(reconciler.Retrying(accessv1alpha1.ReasonAPIError, fmt.Sprintf("cannot get Namespace %q: %v", ns, err)))
	}
	ok, err := NamespaceAllowed(cpc, nsObj)
	if err != nil {
		return nil, reconciler.Fail(reconciler.Stalled(accessv1alpha1.ReasonNamespaceNotAllowed,
			fmt.Sprintf("ClusterProviderConfig %q has an invalid namespaceSelector (%v): no namespace may use it until it is fixed; nothing was read or written", cpc.Name, err), false))
	}
	if !ok {
		return nil, reconciler.Fail(reconciler.Stalled(accessv1alpha1.ReasonNamespaceNotAllowed,
			fmt.Sprintf("ClusterProviderConfig %q does not allow namespace %q (neither its spec.namespaces nor its spec.namespaceSelector matches): ask its owners to allow the namespace, or use a ProviderConfig of this namespace; nothing was read or written", cpc.Name, ns), false))
	}
	return ConfigOf(cpc, r.ControllerNamespace), nil
}

// Secret reads c's credentials Secret (labelled ones only; see SecretReader).
func (r Resolver) Secret(ctx context.Context, c *Config) (*corev1.Secret, error) {
	name := c.SecretName()
	if name == "" {
		return nil, stall(accessv1alpha1.ReasonInvalidSpec, c.Kind+" sets neither hostup nor onlyoffice")
	}
	if c.SecretNamespace == "" {
		return nil, stall(accessv1alpha1.ReasonInvalidSpec, fmt.Sprintf(
			"%s names no credentialsNamespace and the manager knows no namespace of its own (--credentials-namespace, or POD_NAMESPACE)", c.Key()))
	}
	secrets := r.Secrets
	if secrets.Cached == nil {
		secrets.Cached = r.Kube
	}
	return secrets.Get(ctx, c.SecretNamespace, name, "the provider credentials")
}

// Resolve is Config followed by Secret: the config an object in namespace ns uses and its
// credentials Secret. It does not check that the config is Ready.
func (r Resolver) Resolve(ctx context.Context, ns string, ref accessv1alpha1.ProviderConfigReference) (*Config, *corev1.Secret, error) {
	c, err := r.Config(ctx, ns, ref)
	if err != nil {
		return nil, nil, err
	}
	s, err := r.Secret(ctx, c)
	if err != nil {
		return c, nil, err
	}
	return c, s, nil
}

// NamespaceAllowed reports whether cpc allows objects of namespace ns: ns is listed in
// spec.namespaces or its labels match spec.namespaceSelector (an empty selector matches every
// namespace; an unset one none). The error is an invalid selector.
func NamespaceAllowed(cpc *accessv1alpha1.ClusterProviderConfig, ns *corev1.Namespace) (bool, error) {
	if slices.Contains(cpc.Spec.Namespaces, ns.Name) {
		return true, nil
	}
	if cpc.Spec.NamespaceSelector == nil {
		return false, nil
	}
	sel, err := metav1.LabelSelectorAsSelector(cpc.Spec.NamespaceSelector)
	if err != nil {
		return false, err
	}
	return sel.Matches(labels.Set(ns.Labels)), nil
}
