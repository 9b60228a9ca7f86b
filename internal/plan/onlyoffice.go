package plan

import (
	"fmt"
)

// ONLYOFFICE share types as the API writes them.
const (
	ShareNone      = 0 // private: only managers and CRM administrators
	ShareReadWrite = 1 // everyone with CRM access reads and edits
	ShareRead      = 2 // everyone reads; cannot be set through the access endpoint
)

// ShareTypeName is the readable name of a share type.
func ShareTypeName(t int) string {
	switch t {
	case ShareNone:
		return "None"
	case ShareReadWrite:
		return "ReadWrite"
	case ShareRead:
		return "Read"
	}
	return fmt.Sprintf("Unknown(%d)", t)
}

// OnlyOfficeState is a CRM contact's sharing: its share type and, when private, the GUIDs of
// its managers.
type OnlyOfficeState struct {
	ShareType int
	Managers  []string
}

// OnlyOffice compares desired and observed sharing. names maps GUIDs to readable names.
// Managers only count for a private contact: ONLYOFFICE neither shows nor applies them to a
// shared one.
func OnlyOffice(desired, observed OnlyOfficeState, names map[string]string) Result {
	var diffs []string
	if desired.ShareType != observed.ShareType {
		diffs = append(diffs, fmt.Sprintf("shareType: %s -> %s", ShareTypeName(observed.ShareType), ShareTypeName(desired.ShareType)))
	}
	if desired.ShareType == ShareNone {
		d, o := sortedSet(desired.Managers), sortedSet(observed.Managers)
		if add := setDiff(d, o); len(add) > 0 {
			diffs = append(diffs, "managers: add "+labels(add, names))
		}
		if rm := setDiff(o, d); len(rm) > 0 {
			diffs = append(diffs, "managers: remove "+labels(rm, names))
		}
	}
	return Result{Differences: diffs}
}
