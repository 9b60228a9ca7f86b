package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// GrantState is the lifecycle state of a delegated grant, derived from its timestamps.
// +kubebuilder:validation:Enum=Pending;Active;Expired;Revoked
type GrantState string

const (
	// GrantPending: invited, not accepted, not expired.
	GrantPending GrantState = "Pending"
	// GrantActive: accepted and not revoked.
	GrantActive GrantState = "Active"
	// GrantExpired: the invitation expired unaccepted.
	GrantExpired GrantState = "Expired"
	// GrantRevoked: the grant was revoked.
	GrantRevoked GrantState = "Revoked"
)

// GrantDeletionPolicy says what happens to the grant when the object is deleted.
// +kubebuilder:validation:Enum=Revoke;Orphan
type GrantDeletionPolicy string

// DelegatedGrantSpec declares one HostUp delegated-access invitation.
// +kubebuilder:validation:XValidation:rule="self.email == oldSelf.email",message="email is immutable: delete the DelegatedGrant and create a new one"
// +kubebuilder:validation:XValidation:rule="self.label == oldSelf.label",message="label is immutable: HostUp has no API to change it"
// +kubebuilder:validation:XValidation:rule="self.providerConfigRef.name == oldSelf.providerConfigRef.name",message="providerConfigRef is immutable"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.grantID) || (has(self.grantID) && self.grantID == oldSelf.grantID)",message="grantID is immutable once set: delete the DelegatedGrant and create a new one to adopt another grant"
type DelegatedGrantSpec struct {
	// ProviderConfigRef names the HostUp ProviderConfig (in this namespace).
	ProviderConfigRef ProviderConfigReference `json:"providerConfigRef"`
	// Email of the person invited to manage the account.
	// +kubebuilder:validation:MaxLength=254
	// +kubebuilder:validation:Pattern=`^[^@\s]+@[^@\s]+\.[^@\s]+$`
	Email string `json:"email"`
	// Label shown in the HostUp dashboard.
	// +kubebuilder:validation:MaxLength=100
	// +kubebuilder:default=""
	// +optional
	Label string `json:"label"`
	// GrantID adopts a grant that already exists in HostUp (see `kubectl contactsync import
	// grants` and ProviderConfig status.undeclaredGrants) instead of inviting: the controller
	// checks that the account lists the grant and that it was sent to spec.email, and never
	// sends an invitation for this object (not even with reinviteOnExpiry). Immutable once set.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9_-]+$`
	// +optional
	GrantID string `json:"grantID,omitempty"`
	// ReinviteOnExpiry sends a new invitation when one expires unaccepted. Ignored (never
	// re-invites) when spec.grantID adopts an existing grant.
	// +optional
	ReinviteOnExpiry bool `json:"reinviteOnExpiry,omitempty"`
	// ManagementPolicy: Enforce creates the invitation; Observe only reports.
	// +kubebuilder:default=Enforce
	// +optional
	ManagementPolicy ManagementPolicy `json:"managementPolicy,omitempty"`
	// DeletionPolicy: Revoke (default) or Orphan.
	// +kubebuilder:default=Revoke
	// +optional
	DeletionPolicy GrantDeletionPolicy `json:"deletionPolicy,omitempty"`
	// InviteTokenSecretRef asks for the invite token to be written to this Secret (key
	// inviteToken). The token is a credential: it is never put in status, events or logs.
	// +optional
	InviteTokenSecretRef *SecretReference `json:"inviteTokenSecretRef,omitempty"`
	// SyncInterval overrides the ProviderConfig's poll period.
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$') && duration(self) >= duration('5s') && duration(self) <= duration('24h')",message="syncInterval must be a duration such as 90s, 10m or 1h30m, between 5s and 24h"
	// +optional
	SyncInterval *metav1.Duration `json:"syncInterval,omitempty"`
}

// Grantee is the account that accepted the grant.
type Grantee struct {
	// ClientID of the grantee's HostUp account.
	// +optional
	ClientID string `json:"clientID,omitempty"`
	// Name of the person who accepted.
	// +optional
	Name string `json:"name,omitempty"`
	// Email of the person who accepted (it may differ from spec.email).
	// +optional
	Email string `json:"email,omitempty"`
	// Company of the grantee's account.
	// +optional
	Company string `json:"company,omitempty"`
}

// DelegatedGrantStatus is what the controller saw of the grant.
type DelegatedGrantStatus struct {
	CommonStatus `json:",inline"`
	// GrantID in HostUp.
	// +optional
	GrantID string `json:"grantID,omitempty"`
	// State: Pending, Active, Expired or Revoked.
	// +optional
	State GrantState `json:"state,omitempty"`
	// InviteExpiresAt is when a pending invitation expires.
	// +optional
	InviteExpiresAt *metav1.Time `json:"inviteExpiresAt,omitempty"`
	// AcceptedAt is when the invitation was accepted.
	// +optional
	AcceptedAt *metav1.Time `json:"acceptedAt,omitempty"`
	// Grantee of an accepted grant.
	// +optional
	Grantee *Grantee `json:"grantee,omitempty"`
	// Permissions of an active grant as last read.
	// +optional
	Permissions *ObservedHostUp `json:"permissions,omitempty"`
	// Plan lists what Enforce would do; set under managementPolicy Observe.
	// +listType=atomic
	// +optional
	Plan []string `json:"plan,omitempty"`
}

// DelegatedGrant declares one HostUp delegated-access invitation.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=contactsync,shortName=csdg
// +kubebuilder:printcolumn:name="ProviderConfig",type=string,JSONPath=`.spec.providerConfigRef.name`
// +kubebuilder:printcolumn:name="Email",type=string,JSONPath=`.spec.email`
// +kubebuilder:printcolumn:name="State",type=string,JSONPath=`.status.state`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Synced",type=string,JSONPath=`.status.conditions[?(@.type=="Synced")].status`
// +kubebuilder:printcolumn:name="Policy",type=string,JSONPath=`.spec.managementPolicy`
// +kubebuilder:printcolumn:name="Grant",type=string,JSONPath=`.status.grantID`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type DelegatedGrant struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   DelegatedGrantSpec   `json:"spec"`
	Status DelegatedGrantStatus `json:"status,omitempty"`
}

// DelegatedGrantList is a list of DelegatedGrants.
// +kubebuilder:object:root=true
type DelegatedGrantList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []DelegatedGrant `json:"items"`
}

const (
	// GrantDeletionRevoke revokes the grant (or says plainly that a person must) before the object goes.
	GrantDeletionRevoke GrantDeletionPolicy = "Revoke"
	// GrantDeletionOrphan leaves the grant in HostUp.
	GrantDeletionOrphan GrantDeletionPolicy = "Orphan"
)
