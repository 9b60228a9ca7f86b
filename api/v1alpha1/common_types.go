package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Condition types. Every object carries all four, each stamped with observedGeneration.
const (
	// TypeReady is True when the desired state was reached and verified by a read.
	TypeReady = "Ready"
	// TypeSynced is True when the last reconcile reached the provider API without error.
	TypeSynced = "Synced"
	// TypeReconciling is True while the controller is working towards the desired state (kstatus).
	TypeReconciling = "Reconciling"
	// TypeStalled is True when progress needs a person: a spec change, a Secret, a dashboard action (kstatus).
	TypeStalled = "Stalled"
)

// Condition reasons. Each one tells a person what happened and, for failures, what to fix.
const (
	// ReasonAvailable: the desired state is in place and was verified by a read.
	ReasonAvailable = "Available"
	// ReasonReconcileSuccess: the last reconcile reached the API and applied or confirmed the plan.
	ReasonReconcileSuccess = "ReconcileSuccess"
	// ReasonCreating: a contact or invitation is being created.
	ReasonCreating = "Creating"
	// ReasonObserveOnly: managementPolicy is Observe and the provider differs; status.plan holds
	// what Enforce would change. Ready is True: observing and planning is all such an object does.
	ReasonObserveOnly = "ObserveOnly"
	// ReasonDeleting: the object is being deleted and its deletion policy applied.
	ReasonDeleting = "Deleting"

	// ReasonCredentialsVerified: the provider accepted the credentials.
	ReasonCredentialsVerified = "CredentialsVerified"
	// ReasonCredentialsRejected: the provider rejected the credentials (401, bad password, 2FA account).
	ReasonCredentialsRejected = "CredentialsRejected"
	// ReasonSecretNotFound: a referenced Secret does not exist in the object's namespace.
	ReasonSecretNotFound = "SecretNotFound"
	// ReasonSecretInvalid: a referenced Secret lacks a key or holds an unusable value.
	ReasonSecretInvalid = "SecretInvalid"
	// ReasonProviderConfigNotFound: spec.providerConfigRef names no ProviderConfig in this
	// namespace (or no ClusterProviderConfig).
	ReasonProviderConfigNotFound = "ProviderConfigNotFound"
	// ReasonNamespaceNotAllowed: spec.providerConfigRef names a ClusterProviderConfig whose
	// namespace selector does not allow this namespace; nothing was read or written.
	ReasonNamespaceNotAllowed = "NamespaceNotAllowed"
	// ReasonInUse: a ProviderConfig or ClusterProviderConfig being deleted waits until the objects
	// that use it are gone (their deletion policy needs it).
	ReasonInUse = "InUse"
	// ReasonProviderConfigNotReady: the referenced ProviderConfig has not verified its credentials yet.
	ReasonProviderConfigNotReady = "ProviderConfigNotReady"
	// ReasonProviderMismatch: the spec's provider block does not match the ProviderConfig's kind.
	ReasonProviderMismatch = "ProviderMismatch"
	// ReasonInvalidSpec: the spec passed admission but cannot be acted on.
	ReasonInvalidSpec = "InvalidSpec"
	// ReasonUnknownResource: a service, domain or DNS zone is not in the account's catalogue.
	ReasonUnknownResource = "UnknownResource"
	// ReasonUnknownManager: a manager e-mail or id is not a user of the portal.
	ReasonUnknownManager = "UnknownManager"
	// ReasonManagerNotActive: a manager is terminated, not activated or a visitor.
	ReasonManagerNotActive = "ManagerNotActive"
	// ReasonContactNotFound: the contact does not exist in the provider.
	ReasonContactNotFound = "ContactNotFound"
	// ReasonForbidden: the provider refused the operation for these credentials (403).
	ReasonForbidden = "Forbidden"
	// ReasonCreateOutcomeUnknown: a create call may have succeeded without its id being recorded.
	ReasonCreateOutcomeUnknown = "CreateOutcomeUnknown"
	// ReasonAPIError: the provider answered with an error worth retrying; the controller backs off.
	ReasonAPIError = "APIError"
	// ReasonRateLimited: the provider asked us to slow down; the controller waits for Retry-After.
	ReasonRateLimited = "RateLimited"
	// ReasonInvitePending: the invitation was sent and waits for the invitee to accept it.
	ReasonInvitePending = "InvitePending"
	// ReasonInviteExpired: the invitation expired unaccepted and will not be re-sent (reinviteOnExpiry off).
	ReasonInviteExpired = "InviteExpired"
	// ReasonGrantRevoked: the grant was revoked in HostUp; it is not re-created behind a person's back.
	ReasonGrantRevoked = "GrantRevoked"
	// ReasonCreateRefused: the provider refused a create (HTTP 200 with success false, or a 4xx);
	// nothing was created, and the create is retried with backoff up to the sync interval.
	ReasonCreateRefused = "CreateRefused"
	// ReasonGrantDisappeared: the grant this object recorded is no longer listed by HostUp; it is
	// not re-invited behind a person's back.
	ReasonGrantDisappeared = "GrantDisappeared"
	// ReasonGrantNotFound: spec.grantID names a grant the HostUp account does not list; nothing
	// is invited for an object that adopts a grant.
	ReasonGrantNotFound = "GrantNotFound"
	// ReasonGrantMismatch: the grant spec.grantID adopts was sent to another e-mail than
	// spec.email (or differs from the grant this object created); nothing is written.
	ReasonGrantMismatch = "GrantMismatch"
	// ReasonSecretNotLabeled: a referenced Secret exists but lacks the opt-in label
	// access.contactsync.dev/credentials: "true"; its value was not read.
	ReasonSecretNotLabeled = "SecretNotLabeled"
	// ReasonEndpointRefused: a base URL the manager does not allow credentials to be sent to
	// (plain http without --allow-insecure-http, a link-local or metadata address, a host
	// outside the allow-list); no request was sent.
	ReasonEndpointRefused = "EndpointRefused"
	// ReasonDeleteFailed: deletionPolicy Delete could not delete the contact after several
	// attempts and it still exists; a person deletes it in the dashboard or sets Orphan.
	ReasonDeleteFailed = "DeleteFailed"
	// ReasonRevocationRequiresDashboard: HostUp has no (working) revoke call; a person must revoke in the dashboard.
	ReasonRevocationRequiresDashboard = "RevocationRequiresDashboard"
)

// ManagementPolicy says whether the controller may write to the provider.
// +kubebuilder:validation:Enum=Enforce;Observe
type ManagementPolicy string

const (
	// ManagementEnforce observes, plans and applies the plan.
	ManagementEnforce ManagementPolicy = "Enforce"
	// ManagementObserve observes and plans, writes the plan to status and changes nothing.
	ManagementObserve ManagementPolicy = "Observe"
)

// DeletionPolicy says what happens in the provider when the object is deleted.
// +kubebuilder:validation:Enum=Revoke;Orphan;Delete
type DeletionPolicy string

const (
	// DeletionRevoke removes every right the object granted (the default).
	DeletionRevoke DeletionPolicy = "Revoke"
	// DeletionOrphan leaves the provider as it is.
	DeletionOrphan DeletionPolicy = "Orphan"
	// DeletionDelete deletes a HostUp contact that this object created.
	DeletionDelete DeletionPolicy = "Delete"
)

// ProviderConfigReference names a ProviderConfig in the object's own namespace, or a
// ClusterProviderConfig whose namespace selector allows the object's namespace. Like the name,
// the kind is immutable (an unset kind equals ProviderConfig): the ids an object recorded belong
// to its account.
// +kubebuilder:validation:XValidation:rule="(has(self.kind) ? self.kind : 'ProviderConfig') == (has(oldSelf.kind) ? oldSelf.kind : 'ProviderConfig')",message="providerConfigRef.kind is immutable: the contact or grant ids this object recorded belong to its account (to move to another config, delete the object with deletionPolicy Orphan and create it anew)"
type ProviderConfigReference struct {
	// Kind of the config: ProviderConfig (the default: one in this namespace) or
	// ClusterProviderConfig (cluster-scoped, shared by the namespaces its selector allows).
	// +kubebuilder:validation:Enum=ProviderConfig;ClusterProviderConfig
	// +optional
	Kind string `json:"kind,omitempty"`
	// Name of the ProviderConfig in this namespace, or of the ClusterProviderConfig.
	// Cross-namespace references to a ProviderConfig are not possible.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`
	Name string `json:"name"`
}

// Kinds a ProviderConfigReference may name.
const (
	KindProviderConfig        = "ProviderConfig"
	KindClusterProviderConfig = "ClusterProviderConfig"
)

// IsCluster reports whether the reference names a ClusterProviderConfig.
func (r ProviderConfigReference) IsCluster() bool { return r.Kind == KindClusterProviderConfig }

// SecretKeySelector names a key of a Secret in the object's own namespace.
type SecretKeySelector struct {
	// Name of the Secret.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`
	Name string `json:"name"`
	// Key within the Secret.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	Key string `json:"key"`
}

// SecretReference names a Secret in the object's own namespace.
type SecretReference struct {
	// Name of the Secret.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`
	Name string `json:"name"`
}

// CommonStatus is embedded in every kind's status.
type CommonStatus struct {
	// Conditions: Ready, Synced, Reconciling and Stalled.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
	// ObservedGeneration is the spec generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// LastSyncTime is when the provider was last read successfully. It is refreshed with every
	// status change and at least hourly; polls that find nothing new do not write the status.
	// +optional
	LastSyncTime *metav1.Time `json:"lastSyncTime,omitempty"`
	// UnrecordedCreatedID is the id of a contact or grant that the provider created for this
	// object while the controller could not record it in the created-id annotation. It is kept
	// here until it is recorded, so that no second create is ever sent.
	// +optional
	UnrecordedCreatedID string `json:"unrecordedCreatedID,omitempty"`
}

// LabelCredentials opts a Secret in to being read by contactsync (credentials, contact
// passwords). The controller's cache holds only Secrets with this label set to "true".
const LabelCredentials = "access.contactsync.dev/credentials"

// Annotations the controller writes on objects (metadata survives a status loss).
const (
	// AnnotationCreatePending is set just before a non-idempotent create call and removed with
	// the returned id right after it. Finding it without an id means the outcome is unknown.
	AnnotationCreatePending = "access.contactsync.dev/create-pending"
	// AnnotationCreatedID holds the id of the contact or grant this object created.
	AnnotationCreatedID = "access.contactsync.dev/created-id"
	// Finalizer keeps an object until its deletion policy has been applied.
	Finalizer = "access.contactsync.dev/finalizer"
	// FinalizerInUse keeps a ProviderConfig or ClusterProviderConfig while objects use it, so
	// that their deletion policy can still reach the provider.
	FinalizerInUse = "access.contactsync.dev/in-use"
)

// GetCommonStatus returns the conditions and generation bookkeeping shared by every kind.
func (o *ContactAccess) GetCommonStatus() *CommonStatus { return &o.Status.CommonStatus }

// GetCommonStatus returns the conditions and generation bookkeeping shared by every kind.
func (o *DelegatedGrant) GetCommonStatus() *CommonStatus { return &o.Status.CommonStatus }

// GetCommonStatus returns the conditions and generation bookkeeping shared by every kind.
func (o *ProviderConfig) GetCommonStatus() *CommonStatus { return &o.Status.CommonStatus }

// StatusValue returns the whole status, to tell whether a reconcile changed it.
func (o *ContactAccess) StatusValue() any { return o.Status }

// StatusValue returns the whole status, to tell whether a reconcile changed it.
func (o *DelegatedGrant) StatusValue() any { return o.Status }

// StatusValue returns the whole status, to tell whether a reconcile changed it.
func (o *ProviderConfig) StatusValue() any { return o.Status }

// GetCommonStatus returns the conditions and generation bookkeeping shared by every kind.
func (o *ClusterProviderConfig) GetCommonStatus() *CommonStatus { return &o.Status.CommonStatus }

// StatusValue returns the whole status, to tell whether a reconcile changed it.
func (o *ClusterProviderConfig) StatusValue() any { return o.Status }
