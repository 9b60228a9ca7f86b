package hostup

import (
	"time"
)

// Resource is one service, domain or DNS zone of the account as a permission payload lists it.
// IDs are HostUp's numeric legacy ids as strings ("14101"), not v2 "vps_…" ids.
type Resource struct {
	ID        string
	Name      string
	Type      string // "service", "domain", "dns_zone" when HostUp says so
	Category  string // services only: "vps" or "hosting"
	HasAccess bool
	// Bare: the GET gave a bare string (the older doc stub's shape), not an object, so the list
	// it came in is no catalogue: it names only what is granted, by id or by name.
	Bare bool
}

// Permissions are the rights of one contact. GetPermissions returns the account's whole
// catalogue with HasAccess flags; SetPermissions replaces everything (items absent or with
// HasAccess false are denied).
type Permissions struct {
	Services, Domains, DNSZones []Resource

	CanViewInvoices        bool
	CanReceiveInvoices     bool
	CanOpenTickets         bool
	CanViewTickets         bool
	CanReceiveTicketEmails bool
	CanCloseTickets        bool
	CanPlaceOrders         bool
	AccessAllVps           bool
	AccessAllHosting       bool
	AccessAllDomains       bool
}

// NewContact is a contact person to create (POST /teams). FirstName, LastName, Email and
// Password are required; the rest may be empty.
type NewContact struct {
	FirstName, LastName, Email, Password           string
	PhoneNumber, Address1, City, Country, Postcode string
}

// SessionInfo describes the caller (GET /session-info).
type SessionInfo struct {
	Authenticated bool
	IsContact     bool
	CanAccessCdn  bool
	AuthType      string // values are not documented
}

// Grant is one delegated-access grant (an item of grantedByMe or grantedToMe).
type Grant struct {
	ID              string
	GrantorClientID string
	GranteeClientID string
	GranteeCompany  string
	GranteeEmail    string
	GranteeName     string
	GrantorCompany  string // grantedToMe only
	GrantorName     string // grantedToMe only
	InviteEmail     string
	Label           string
	Status          string // only "active" is documented; states are derived from timestamps (plan.GrantState)
	// InviteToken is a credential: whoever holds it can accept the invite. Never log it, never
	// put it in an object's status or an event.
	InviteToken      string
	InviteExpiresAt  *time.Time
	InviteAcceptedAt *time.Time
	RevokedAt        *time.Time
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// Grant states. HostUp documents only GrantActive; the others are inferred from the
// timestamps the list carries.
const (
	GrantPending = "pending"
	GrantActive  = "active"
	GrantExpired = "expired"
	GrantRevoked = "revoked"
)

// Invite is a created delegated-access invitation (POST /delegated-access).
type Invite struct {
	ID string
	// InviteToken is a credential; see Grant.InviteToken.
	InviteToken     string
	InviteExpiresAt time.Time
	CreatedAt       time.Time
}

// GrantPermissions are the rights of a delegated grant (read-only: HostUp documents no update).
type GrantPermissions struct {
	Permissions
	CanRequestEpp   bool
	GrantID         string
	GranteeClientID string
	Label           string
}
