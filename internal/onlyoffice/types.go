package onlyoffice

import "strings"

// LostUserID is Constants.LostUser: the id the portal answers in place of an unknown or removed
// user GUID stored in a contact's ACL. The GUID that was stored is never echoed back.
const LostUserID = "4a515a15-d4d6-4b8e-828e-e0586f18f3a3"

// User status values (EmployeeStatus).
const (
	UserStatusActive     = 1
	UserStatusTerminated = 2
	UserStatusLeave      = 4
)

// Contact share types (ShareType).
const (
	ShareNone      = 0 // private: only the ACL subjects and CRM admins
	ShareReadWrite = 1 // everyone with CRM access reads and edits
	ShareRead      = 2 // everyone with CRM access reads (cannot be set through the access endpoint)
)

// User is a portal user (EmployeeWraperFull).
type User struct {
	ID               string // lowercase GUID as sent by the portal
	UserName         string
	FirstName        string
	LastName         string
	Email            string
	DisplayName      string
	Status           int // 1 active, 2 terminated, 4 leave of absence
	ActivationStatus int // 0 not activated, 1 activated, 2 pending
	IsAdmin          bool
	IsOwner          bool
	IsVisitor        bool
}

// Active reports whether the user's status is Active (1). Terminated users and users on leave
// are not active.
func (u User) Active() bool { return u.Status == UserStatusActive }

// Contact is the sharing-related part of a CRM contact (person or company).
type Contact struct {
	ID          int64
	DisplayName string
	IsCompany   bool
	ShareType   int // 0 none (private), 1 read/write, 2 read
	IsShared    bool
	IsPrivate   bool
	// AccessList is nil when the portal left the field out (it does for every shared contact);
	// an empty, non-nil slice when the contact is private without managers.
	AccessList []Manager
	CanEdit    bool // the caller's right to edit this contact
}

// ManagerIDs returns the ids of AccessList (nil when AccessList is nil).
func (c Contact) ManagerIDs() []string {
	if c.AccessList == nil {
		return nil
	}
	ids := make([]string, len(c.AccessList))
	for i, m := range c.AccessList {
		ids[i] = m.ID
	}
	return ids
}

// Manager is one ACL subject of a contact (EmployeeWraper). ID is LostUserID for a GUID that
// resolves to no user.
type Manager struct {
	ID          string
	DisplayName string
}

// SameManagers reports whether a and b hold the same set of user GUIDs. Order, duplicates,
// letter case and surrounding blanks are ignored; the portal answers ACLs in database order.
func SameManagers(a, b []string) bool {
	sa, sb := guidSet(a), guidSet(b)
	if len(sa) != len(sb) {
		return false
	}
	for k := range sa {
		if _, ok := sb[k]; !ok {
			return false
		}
	}
	return true
}

func guidSet(ids []string) map[string]struct{} {
	s := make(map[string]struct{}, len(ids))
	for _, id := range ids {
		s[strings.ToLower(strings.TrimSpace(id))] = struct{}{}
	}
	return s
}

// isGUID reports whether s is a GUID in the 8-4-4-4-12 form (either case).
func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}
