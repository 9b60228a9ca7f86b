package plan

import (
	"time"

	accessv1alpha1 "github.com/contactsync/contactsync/api/v1alpha1"
)

// GrantTimes are the lifecycle fields of a HostUp delegated grant.
type GrantTimes struct {
	Status                                       string // HostUp documents only "active"
	InviteExpiresAt, InviteAcceptedAt, RevokedAt *time.Time
}

// GrantState derives a grant's state from its timestamps: HostUp documents no status enum
// (only "active" appears), so the timestamps decide and the status word only confirms a
// revocation.
func GrantState(g GrantTimes, now time.Time) accessv1alpha1.GrantState {
	switch {
	case g.RevokedAt != nil || g.Status == "revoked":
		return accessv1alpha1.GrantRevoked
	case g.InviteAcceptedAt != nil || g.Status == "active":
		return accessv1alpha1.GrantActive
	case g.InviteExpiresAt != nil && !now.Before(*g.InviteExpiresAt):
		return accessv1alpha1.GrantExpired
	case g.Status == "expired":
		return accessv1alpha1.GrantExpired
	}
	return accessv1alpha1.GrantPending
}
