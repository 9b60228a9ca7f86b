package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ResourceRef names one HostUp service, domain or DNS zone by numeric id or by name.
// +kubebuilder:validation:XValidation:rule="has(self.id) != has(self.name)",message="set exactly one of id or name"
type ResourceRef struct {
	// ID is the numeric (legacy) HostUp id, e.g. "14101".
	// +kubebuilder:validation:Pattern=`^[0-9]{1,19}$`
	// +optional
	ID string `json:"id,omitempty"`
	// Name as shown in the account's catalogue, e.g. "example.com"; resolved to an id.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +optional
	Name string `json:"name,omitempty"`
}

// HostUpNewContact describes a contact person the controller creates (POST /api/teams).
type HostUpNewContact struct {
	// FirstName of the contact person.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=100
	FirstName string `json:"firstName"`
	// LastName of the contact person.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=100
	LastName string `json:"lastName"`
	// Email of the contact person (the contact's HostUp login).
	// +kubebuilder:validation:MaxLength=254
	// +kubebuilder:validation:Pattern=`^[^@\s]+@[^@\s]+\.[^@\s]+$`
	Email string `json:"email"`
	// PasswordSecretRef selects the initial login password in a Secret of this namespace.
	PasswordSecretRef SecretKeySelector `json:"passwordSecretRef"`
	// PhoneNumber of the contact person.
	// +kubebuilder:validation:MaxLength=32
	// +optional
	PhoneNumber string `json:"phoneNumber,omitempty"`
	// Address1 is the street address.
	// +kubebuilder:validation:MaxLength=200
	// +optional
	Address1 string `json:"address1,omitempty"`
	// City of the address.
	// +kubebuilder:validation:MaxLength=100
	// +optional
	City string `json:"city,omitempty"`
	// Country as an ISO 3166-1 alpha-2 code, e.g. SE.
	// +kubebuilder:validation:Pattern=`^[A-Z]{2}$`
	// +optional
	Country string `json:"country,omitempty"`
	// Postcode of the address.
	// +kubebuilder:validation:MaxLength=20
	// +optional
	Postcode string `json:"postcode,omitempty"`
}

// HostUpContact selects an existing contact by id, or describes one to create.
// +kubebuilder:validation:XValidation:rule="has(self.id) != has(self.create)",message="set exactly one of contact.id or contact.create"
// +kubebuilder:validation:XValidation:rule="has(self.id) == has(oldSelf.id)",message="contact cannot switch between id and create"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.id) || self.id == oldSelf.id",message="contact.id is immutable"
// +kubebuilder:validation:XValidation:rule="!has(oldSelf.create) || self.create == oldSelf.create",message="contact.create is immutable: HostUp has no API to update a contact"
type HostUpContact struct {
	// ID of an existing contact person.
	// +kubebuilder:validation:Minimum=1
	// +optional
	ID *int64 `json:"id,omitempty"`
	// Create a new contact person.
	// +optional
	Create *HostUpNewContact `json:"create,omitempty"`
}

// HostUpPermissions are the rights of a contact. What is not listed is denied.
type HostUpPermissions struct {
	// Services (VPS and hosting) the contact may reach.
	// +kubebuilder:validation:MaxItems=500
	// +listType=atomic
	// +optional
	Services []ResourceRef `json:"services,omitempty"`
	// Domains the contact may manage.
	// +kubebuilder:validation:MaxItems=500
	// +listType=atomic
	// +optional
	Domains []ResourceRef `json:"domains,omitempty"`
	// DNSZones the contact may edit.
	// +kubebuilder:validation:MaxItems=500
	// +listType=atomic
	// +optional
	DNSZones []ResourceRef `json:"dnsZones,omitempty"`

	// CanViewInvoices lets the contact see the account's invoices.
	// +optional
	CanViewInvoices bool `json:"canViewInvoices,omitempty"`
	// CanReceiveInvoices: the contact receives the account's invoices.
	// +optional
	CanReceiveInvoices bool `json:"canReceiveInvoices,omitempty"`
	// CanOpenTickets lets the contact open support tickets.
	// +optional
	CanOpenTickets bool `json:"canOpenTickets,omitempty"`
	// CanViewTickets lets the contact read the account's support tickets.
	// +optional
	CanViewTickets bool `json:"canViewTickets,omitempty"`
	// CanReceiveTicketEmails: the contact receives the e-mails of support tickets.
	// +optional
	CanReceiveTicketEmails bool `json:"canReceiveTicketEmails,omitempty"`
	// CanCloseTickets lets the contact close support tickets.
	// +optional
	CanCloseTickets bool `json:"canCloseTickets,omitempty"`
	// CanPlaceOrders lets the contact place orders for the account.
	// +optional
	CanPlaceOrders bool `json:"canPlaceOrders,omitempty"`
	// AccessAllVps grants every VPS, present and future.
	// +optional
	AccessAllVps bool `json:"accessAllVps,omitempty"`
	// AccessAllHosting grants every hosting account, present and future.
	// +optional
	AccessAllHosting bool `json:"accessAllHosting,omitempty"`
	// AccessAllDomains grants every domain, present and future.
	// +optional
	AccessAllDomains bool `json:"accessAllDomains,omitempty"`
}

// HostUpContactAccess is the desired access of one HostUp contact person.
type HostUpContactAccess struct {
	// Contact is the contact person: an existing one by id, or one to create.
	Contact HostUpContact `json:"contact"`
	// Permissions of the contact. What is not listed is denied; empty denies everything.
	// +optional
	Permissions HostUpPermissions `json:"permissions,omitempty"`
}

// ManagerRef names an ONLYOFFICE portal user by e-mail or by id.
// +kubebuilder:validation:XValidation:rule="has(self.email) != has(self.id)",message="set exactly one of email or id"
type ManagerRef struct {
	// Email of the user; resolved to the user's id. An unknown e-mail is an error, never a write.
	// +kubebuilder:validation:MaxLength=254
	// +kubebuilder:validation:Pattern=`^[^@\s]+@[^@\s]+\.[^@\s]+$`
	// +optional
	Email string `json:"email,omitempty"`
	// ID (GUID) of the user.
	// +kubebuilder:validation:Pattern=`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`
	// +optional
	ID string `json:"id,omitempty"`
}

// OnlyOfficeContactAccess is the desired sharing of one ONLYOFFICE CRM contact.
// +kubebuilder:validation:XValidation:rule="!has(self.shared) || !self.shared || !has(self.managers) || size(self.managers) == 0",message="managers cannot be set when shared is true: a shared contact is visible to everyone and ONLYOFFICE does not report its managers"
type OnlyOfficeContactAccess struct {
	// ContactID of the CRM person or company.
	// +kubebuilder:validation:Minimum=1
	ContactID int64 `json:"contactID"`
	// Shared makes the contact visible to every CRM user; false (the default, also when the
	// field is left out) makes it private to the managers.
	// +kubebuilder:default=false
	// +optional
	Shared bool `json:"shared"`
	// Managers who may see a private contact (CRM administrators always can).
	// +kubebuilder:validation:MaxItems=100
	// +listType=atomic
	// +optional
	Managers []ManagerRef `json:"managers,omitempty"`
}

// ContactAccessSpec is the desired access of one contact in one provider.
// +kubebuilder:validation:XValidation:rule="has(self.hostup) != has(self.onlyoffice)",message="exactly one of spec.hostup or spec.onlyoffice must be set"
// +kubebuilder:validation:XValidation:rule="self.deletionPolicy != 'Delete' || (has(self.hostup) && has(self.hostup.contact.create))",message="deletionPolicy Delete is only allowed for a HostUp contact created by this object (spec.hostup.contact.create)"
// +kubebuilder:validation:XValidation:rule="self.providerConfigRef.name == oldSelf.providerConfigRef.name",message="providerConfigRef is immutable"
type ContactAccessSpec struct {
	// ProviderConfigRef names the ProviderConfig (in this namespace) of the account.
	ProviderConfigRef ProviderConfigReference `json:"providerConfigRef"`
	// HostUp contact person and its rights.
	// +optional
	HostUp *HostUpContactAccess `json:"hostup,omitempty"`
	// OnlyOffice CRM contact and who may see it.
	// +optional
	OnlyOffice *OnlyOfficeContactAccess `json:"onlyoffice,omitempty"`
	// ManagementPolicy: Enforce applies the plan; Observe only reports it in status.plan.
	// +kubebuilder:default=Enforce
	// +optional
	ManagementPolicy ManagementPolicy `json:"managementPolicy,omitempty"`
	// DeletionPolicy: Revoke denies everything on delete, Orphan leaves it, Delete removes a
	// HostUp contact this object created.
	// +kubebuilder:default=Revoke
	// +optional
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`
	// SyncInterval overrides the ProviderConfig's drift-poll period.
	// +kubebuilder:validation:XValidation:rule="self.matches('^([0-9]+([.][0-9]+)?(ns|us|ms|s|m|h))+$') && duration(self) >= duration('5s') && duration(self) <= duration('24h')",message="syncInterval must be a duration such as 90s, 10m or 1h30m, between 5s and 24h"
	// +optional
	SyncInterval *metav1.Duration `json:"syncInterval,omitempty"`
}

// ObservedResource is a resource the contact has access to.
type ObservedResource struct {
	// ID of the service, domain or DNS zone in HostUp.
	ID string `json:"id"`
	// Name of the resource as HostUp shows it, when known.
	// +optional
	Name string `json:"name,omitempty"`
}

// ObservedHostUp is a HostUp contact's permissions as last read.
type ObservedHostUp struct {
	// Services (VPS and hosting) the contact can reach.
	// +listType=atomic
	// +optional
	Services []ObservedResource `json:"services,omitempty"`
	// Domains the contact can manage.
	// +listType=atomic
	// +optional
	Domains []ObservedResource `json:"domains,omitempty"`
	// DNSZones the contact can edit.
	// +listType=atomic
	// +optional
	DNSZones []ObservedResource `json:"dnsZones,omitempty"`
	// Rights lists the boolean permissions that are on, by their API names.
	// +listType=atomic
	// +optional
	Rights []string `json:"rights,omitempty"`
}

// ObservedManager is a user with access to a private ONLYOFFICE contact.
type ObservedManager struct {
	// ID (GUID) of the portal user.
	ID string `json:"id"`
	// DisplayName of the portal user.
	// +optional
	DisplayName string `json:"displayName,omitempty"`
}

// ObservedOnlyOffice is an ONLYOFFICE contact's sharing as last read.
type ObservedOnlyOffice struct {
	// ShareType: None (private), ReadWrite or Read.
	ShareType string `json:"shareType"`
	// Managers of a private contact.
	// +listType=atomic
	// +optional
	Managers []ObservedManager `json:"managers,omitempty"`
}

// ObservedAccess is the access as last read from the provider.
type ObservedAccess struct {
	// HostUp contact's permissions as last read.
	// +optional
	HostUp *ObservedHostUp `json:"hostup,omitempty"`
	// OnlyOffice contact's sharing as last read.
	// +optional
	OnlyOffice *ObservedOnlyOffice `json:"onlyoffice,omitempty"`
}

// ContactAccessStatus is what the controller saw and did.
type ContactAccessStatus struct {
	CommonStatus `json:",inline"`
	// ContactID of the contact in the provider.
	// +optional
	ContactID string `json:"contactID,omitempty"`
	// Observed access at the last read.
	// +optional
	Observed *ObservedAccess `json:"observed,omitempty"`
	// Drift lists the differences between spec and provider found at the last observation.
	// +listType=atomic
	// +optional
	Drift []string `json:"drift,omitempty"`
	// Plan lists the changes Enforce would make; set under managementPolicy Observe.
	// +listType=atomic
	// +optional
	Plan []string `json:"plan,omitempty"`
}

// ContactAccess declares the permissions of one contact in HostUp or ONLYOFFICE.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=contactsync,shortName=csca
// +kubebuilder:printcolumn:name="ProviderConfig",type=string,JSONPath=`.spec.providerConfigRef.name`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Synced",type=string,JSONPath=`.status.conditions[?(@.type=="Synced")].status`
// +kubebuilder:printcolumn:name="Policy",type=string,JSONPath=`.spec.managementPolicy`
// +kubebuilder:printcolumn:name="Contact",type=string,JSONPath=`.status.contactID`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ContactAccess struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   ContactAccessSpec   `json:"spec"`
	Status ContactAccessStatus `json:"status,omitempty"`
}

// ContactAccessList is a list of ContactAccess objects.
// +kubebuilder:object:root=true
type ContactAccessList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ContactAccess `json:"items"`
}
