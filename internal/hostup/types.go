package hostup

import (
	"strings"
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
	Status          string // only "active" is documented; see EffectiveStatus
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

// EffectiveStatus returns the grant's state: HostUp's status when it sent one, else one
// derived from revoked_at, invite_accepted_at and invite_expires_at.
func (g *Grant) EffectiveStatus(now time.Time) string {
	if s := strings.ToLower(strings.TrimSpace(g.Status)); s != "" {
		return s
	}
	switch {
	case g.RevokedAt != nil:
		return GrantRevoked
	case g.InviteAcceptedAt != nil:
		return GrantActive
	case g.InviteExpiresAt != nil && !now.Before(*g.InviteExpiresAt):
		return GrantExpired
	}
	return GrantPending
}

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
