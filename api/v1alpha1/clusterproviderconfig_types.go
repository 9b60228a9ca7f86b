package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ClusterProviderConfigSpec is a ProviderConfigSpec for the whole cluster: its Secret lives in
// the controller's namespace (or credentialsNamespace), and the namespace selector says which
// namespaces' objects may use it.
// The rule "exactly one of spec.hostup or spec.onlyoffice" comes with the inlined ProviderConfigSpec
// (repeating it here would list it twice, which server-side apply refuses).
// +kubebuilder:validation:XValidation:rule="has(self.namespaceSelector) || (has(self.namespaces) && size(self.namespaces) > 0)",message="set spec.namespaceSelector and/or spec.namespaces: a ClusterProviderConfig allows no namespace by default (namespaceSelector: {} allows every namespace)"
type ClusterProviderConfigSpec struct {
	ProviderConfigSpec `json:",inline"`
	// CredentialsNamespace is the namespace of the credentials Secret named in spec.hostup or
	// spec.onlyoffice. Unset: the controller's own namespace. The Secret must carry the opt-in
	// label access.contactsync.dev/credentials: "true", as every Secret contactsync reads.
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +optional
	CredentialsNamespace string `json:"credentialsNamespace,omitempty"`
	// NamespaceSelector allows the namespaces whose labels match it. An empty selector ({})
	// allows every namespace.
	// +optional
	NamespaceSelector *metav1.LabelSelector `json:"namespaceSelector,omitempty"`
	// Namespaces allows these namespaces by name (in addition to namespaceSelector).
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MaxLength=63
	// +listType=set
	// +optional
	Namespaces []string `json:"namespaces,omitempty"`
}

// ClusterProviderConfig says how to reach one HostUp account or ONLYOFFICE portal, for every
// namespace its selector allows (a platform team's shared credential).
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,categories=contactsync,shortName=cscpc
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Synced",type=string,JSONPath=`.status.conditions[?(@.type=="Synced")].status`
// +kubebuilder:printcolumn:name="Users",type=integer,JSONPath=`.status.users`
// +kubebuilder:printcolumn:name="Secret-Namespace",type=string,JSONPath=`.spec.credentialsNamespace`,priority=1
// +kubebuilder:printcolumn:name="Identity",type=string,JSONPath=`.status.identity`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ClusterProviderConfig struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec ClusterProviderConfigSpec `json:"spec"`
	// Status is the same as a ProviderConfig's; undeclaredGrants counts as declared the
	// DelegatedGrants of every namespace that use this config (and of configs sharing its
	// account's connection).
	Status ProviderConfigStatus `json:"status,omitempty"`
}

// ClusterProviderConfigList is a list of ClusterProviderConfigs.
// +kubebuilder:object:root=true
type ClusterProviderConfigList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ClusterProviderConfig `json:"items"`
}
