// Package v1alpha1 contains the contactsync API: ProviderConfig, ContactAccess and
// DelegatedGrant in the group access.contactsync.dev.
// +kubebuilder:object:generate=true
// +groupName=access.contactsync.dev
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the group and version of these objects.
	GroupVersion = schema.GroupVersion{Group: "access.contactsync.dev", Version: "v1alpha1"}

	// SchemeBuilder registers the types with a scheme.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds the types of this group-version to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion,
		&ProviderConfig{}, &ProviderConfigList{},
		&ClusterProviderConfig{}, &ClusterProviderConfigList{},
		&ContactAccess{}, &ContactAccessList{},
		&DelegatedGrant{}, &DelegatedGrantList{},
	)
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
