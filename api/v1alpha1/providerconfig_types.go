package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// HostUpAuthScheme selects how the API key is sent.
// +kubebuilder:validation:Enum=APIKeyHeader;Bearer
type HostUpAuthScheme string

const (
	// AuthAPIKeyHeader sends the key as X-API-Key (the form every v1 doc sample shows).
	AuthAPIKeyHeader HostUpAuthScheme = "APIKeyHeader"
	// AuthBearer sends the key as Authorization: Bearer.
	AuthBearer HostUpAuthScheme = "Bearer"
)

// GrantRevocation says how a DelegatedGrant with deletionPolicy Revoke is revoked.
// +kubebuilder:validation:Enum=Manual;DeleteEndpoint
type GrantRevocation string

const (
	// RevocationManual: HostUp documents no revoke call, so a person revokes in the dashboard.
	RevocationManual GrantRevocation = "Manual"
	// RevocationDeleteEndpoint calls DELETE /api/delegated-access/{id}. HostUp documents that
	// path only as "switch back"; enable it only if your account's API revokes with it.
	RevocationDeleteEndpoint GrantRevocation = "DeleteEndpoint"
)

// HostUpProvider is how to reach one HostUp account.
type HostUpProvider struct {
	// BaseURL of the HostUp API.
	// +kubebuilder:default="https://cloud.hostup.se/api"
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:Pattern=`^https?://[^\s]+$`
	// +optional
	BaseURL string `json:"baseURL,omitempty"`
	// APIKeySecretRef selects the API key in a Secret of this namespace.
	APIKeySecretRef SecretKeySelector `json:"apiKeySecretRef"`
	// AuthScheme selects the header that carries the key.
	// +kubebuilder:default=APIKeyHeader
	// +optional
	AuthScheme HostUpAuthScheme `json:"authScheme,omitempty"`
	// GrantRevocation says how delegated grants are revoked on deletion.
	// +kubebuilder:default=Manual
	// +optional
	GrantRevocation GrantRevocation `json:"grantRevocation,omitempty"`
}

// OnlyOfficeProvider is how to reach one ONLYOFFICE Workspace portal.
type OnlyOfficeProvider struct {
	// BaseURL of the portal, e.g. https://office.example.com (the API lives under /api/2.0).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:Pattern=`^https?://[^\s]+$`
	BaseURL string `json:"baseURL"`
	// CredentialsSecretRef names a Secret of this namespace with the keys userName and password
	// (a CRM administrator without two-factor login), or the key token.
	CredentialsSecretRef SecretReference `json:"credentialsSecretRef"`
}

// RateLimit is the client-side limit shared by every object that uses this ProviderConfig.
type RateLimit struct {
	// RequestsPerSecond sent to the provider at most.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	// +kubebuilder:default=10
	// +optional
	RequestsPerSecond int32 `json:"requestsPerSecond,omitempty"`
	// Burst of requests allowed above the steady rate. Unset: 10 for HostUp; 3 for ONLYOFFICE
	// (one reconcile's read, write and verify read), whose client is also held to
	// requestsPerSecond × 10 requests in any 10 s, the portal's documented window.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	// +optional
	Burst int32 `json:"burst,omitempty"`
}

// ProviderConfigSpec says how to reach one account of one provider.
// +kubebuilder:validation:XValidation:rule="has(self.hostup) != has(self.onlyoffice)",message="exactly one of spec.hostup or spec.onlyoffice must be set"
type ProviderConfigSpec struct {
	// HostUp account.
	// +optional
	HostUp *HostUpProvider `json:"hostup,omitempty"`
	// OnlyOffice portal.
	// +optional
	OnlyOffice *OnlyOfficeProvider `json:"onlyoffice,omitempty"`
	// RateLimit of outbound calls, shared by every object using this config.
	// +optional
	RateLimit *RateLimit `json:"rateLimit,omitempty"`
	// SyncInterval is the default drift-poll period of objects using this config.
	// +kubebuilder:default="10m"
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$') && duration(self) >= duration('5s') && duration(self) <= duration('24h')",message="syncInterval must be a duration such as 90s, 10m or 1h30m, between 5s and 24h"
	// +optional
	SyncInterval *metav1.Duration `json:"syncInterval,omitempty"`
}

// UndeclaredGrant is a delegated grant that exists in the account but is declared by no
// DelegatedGrant of the namespace.
type UndeclaredGrant struct {
	// ID of the grant.
	ID string `json:"id"`
	// Email the invitation went to, or the grantee's e-mail.
	// +optional
	Email string `json:"email,omitempty"`
	// Label of the grant.
	// +optional
	Label string `json:"label,omitempty"`
	// State of the grant.
	// +optional
	State GrantState `json:"state,omitempty"`
}

// ProviderConfigStatus is what the controller saw of the account.
type ProviderConfigStatus struct {
	CommonStatus `json:",inline"`
	// Identity the credentials authenticate as (ONLYOFFICE user, HostUp auth type).
	// +optional
	Identity string `json:"identity,omitempty"`
	// UndeclaredGrants lists HostUp delegated grants that no DelegatedGrant here declares: at
	// most MaxUndeclaredGrants of them (by id), so an account with thousands of grants cannot
	// push the object past the API server's size limit; undeclaredGrantsTotal counts them all.
	// +kubebuilder:validation:MaxItems=50
	// +listType=atomic
	// +optional
	UndeclaredGrants []UndeclaredGrant `json:"undeclaredGrants,omitempty"`
	// UndeclaredGrantsTotal is the number of undeclared grants, also those not listed.
	// +optional
	UndeclaredGrantsTotal int32 `json:"undeclaredGrantsTotal,omitempty"`
	// Users is the number of ContactAccess and DelegatedGrant objects that use this config. While
	// it is above zero the config is kept (finalizer access.contactsync.dev/in-use).
	// +optional
	Users int32 `json:"users,omitempty"`
	// UsedBy names up to MaxUsedBy of those objects, as "Kind namespace/name", sorted.
	// +kubebuilder:validation:MaxItems=10
	// +listType=atomic
	// +optional
	UsedBy []string `json:"usedBy,omitempty"`
}

// MaxUndeclaredGrants bounds status.undeclaredGrants.
const MaxUndeclaredGrants = 50

// MaxUsedBy bounds status.usedBy.
const MaxUsedBy = 10

// ProviderConfig says how to reach one HostUp account or ONLYOFFICE portal.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=contactsync,shortName=cspcfg
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Synced",type=string,JSONPath=`.status.conditions[?(@.type=="Synced")].status`
// +kubebuilder:printcolumn:name="Users",type=integer,JSONPath=`.status.users`
// +kubebuilder:printcolumn:name="Identity",type=string,JSONPath=`.status.identity`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ProviderConfig struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   ProviderConfigSpec   `json:"spec"`
	Status ProviderConfigStatus `json:"status,omitempty"`
}

// ProviderConfigList is a list of ProviderConfigs.
// +kubebuilder:object:root=true
type ProviderConfigList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ProviderConfig `json:"items"`
}
