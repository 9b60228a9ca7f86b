package plan

import (
	"fmt"
	"sort"
	"strings"

	accessv1alpha1 "github.com/contactsync/contactsync/api/v1alpha1"
	"github.com/contactsync/contactsync/internal/hostup"
)

// Right is one of the ten HostUp contact booleans: its API name and where it lives in the spec
// and in the client's permissions. RightsTable is the only list of them; everything that maps
// rights (the plan, the observed status, the write body) walks it.
type Right struct {
	Name string
	Spec func(*accessv1alpha1.HostUpPermissions) *bool
	Wire func(*hostup.Permissions) *bool
}

// RightsTable lists the rights in the order the API lists them.
var RightsTable = []Right{
	{"canViewInvoices", func(p *accessv1alpha1.HostUpPermissions) *bool { return &p.CanViewInvoices }, func(p *hostup.Permissions) *bool { return &p.CanViewInvoices }},
	{"canReceiveInvoices", func(p *accessv1alpha1.HostUpPermissions) *bool { return &p.CanReceiveInvoices }, func(p *hostup.Permissions) *bool { return &p.CanReceiveInvoices }},
	{"canOpenTickets", func(p *accessv1alpha1.HostUpPermissions) *bool { return &p.CanOpenTickets }, func(p *hostup.Permissions) *bool { return &p.CanOpenTickets }},
	{"canViewTickets", func(p *accessv1alpha1.HostUpPermissions) *bool { return &p.CanViewTickets }, func(p *hostup.Permissions) *bool { return &p.CanViewTickets }},
	{"canReceiveTicketEmails", func(p *accessv1alpha1.HostUpPermissions) *bool { return &p.CanReceiveTicketEmails }, func(p *hostup.Permissions) *bool { return &p.CanReceiveTicketEmails }},
	{"canCloseTickets", func(p *accessv1alpha1.HostUpPermissions) *bool { return &p.CanCloseTickets }, func(p *hostup.Permissions) *bool { return &p.CanCloseTickets }},
	{"canPlaceOrders", func(p *accessv1alpha1.HostUpPermissions) *bool { return &p.CanPlaceOrders }, func(p *hostup.Permissions) *bool { return &p.CanPlaceOrders }},
	{"accessAllVps", func(p *accessv1alpha1.HostUpPermissions) *bool { return &p.AccessAllVps }, func(p *hostup.Permissions) *bool { return &p.AccessAllVps }},
	{"accessAllHosting", func(p *accessv1alpha1.HostUpPermissions) *bool { return &p.AccessAllHosting }, func(p *hostup.Permissions) *bool { return &p.AccessAllHosting }},
	{"accessAllDomains", func(p *accessv1alpha1.HostUpPermissions) *bool { return &p.AccessAllDomains }, func(p *hostup.Permissions) *bool { return &p.AccessAllDomains }},
}

// Rights are the rights' API names, in RightsTable's order.
var Rights = func() []string {
	out := make([]string, len(RightsTable))
	for i, r := range RightsTable {
		out[i] = r.Name
	}
	return out
}()

// WireRights maps a permissions read to the rights by API name.
func WireRights(p *hostup.Permissions) map[string]bool {
	out := make(map[string]bool, len(RightsTable))
	for _, r := range RightsTable {
		out[r.Name] = *r.Wire(p)
	}
	return out
}

// SetWireRights sets the booleans of p from rights by API name.
func SetWireRights(p *hostup.Permissions, rights map[string]bool) {
	for _, r := range RightsTable {
		*r.Wire(p) = rights[r.Name]
	}
}

// CatalogueItem is one service, domain or DNS zone of the account.
type CatalogueItem struct {
	ID, Name string
}

// HostUpState is a contact's permissions: the ids it may reach and the rights that are on.
type HostUpState struct {
	Services, Domains, DNSZones []string // sorted ids
	Rights                      map[string]bool
}

// Normalize sorts and de-duplicates the id lists and drops false rights, so that equal
// permissions compare equal.
func (s HostUpState) Normalize() HostUpState {
	out := HostUpState{
		Services: sortedSet(s.Services),
		Domains:  sortedSet(s.Domains),
		DNSZones: sortedSet(s.DNSZones),
		Rights:   map[string]bool{},
	}
	for k, v := range s.Rights {
		if v {
			out.Rights[k] = true
		}
	}
	return out
}

// EnabledRights lists the rights that are on, in API order.
func (s HostUpState) EnabledRights() []string {
	var out []string
	for _, r := range Rights {
		if s.Rights[r] {
			out = append(out, r)
		}
	}
	return out
}

// DesiredRights maps the spec's booleans to their API names.
func DesiredRights(p accessv1alpha1.HostUpPermissions) map[string]bool {
	out := make(map[string]bool, len(RightsTable))
	for _, r := range RightsTable {
		out[r.Name] = *r.Spec(&p)
	}
	return out
}

// HostUp compares desired and observed permissions. names maps ids to catalogue names for
// readable output.
func HostUp(desired, observed HostUpState, names map[string]string) Result {
	d, o := desired.Normalize(), observed.Normalize()
	var diffs []string
	for _, f := range []struct {
		field string
		d, o  []string
	}{
		{"services", d.Services, o.Services},
		{"domains", d.Domains, o.Domains},
		{"dnsZones", d.DNSZones, o.DNSZones},
	} {
		if add := setDiff(f.d, f.o); len(add) > 0 {
			diffs = append(diffs, fmt.Sprintf("%s: grant %s", f.field, labels(add, names)))
		}
		if rm := setDiff(f.o, f.d); len(rm) > 0 {
			diffs = append(diffs, fmt.Sprintf("%s: revoke %s", f.field, labels(rm, names)))
		}
	}
	for _, r := range Rights {
		if d.Rights[r] != o.Rights[r] {
			diffs = append(diffs, fmt.Sprintf("%s: %t -> %t", r, o.Rights[r], d.Rights[r]))
		}
	}
	return Result{Differences: diffs}
}

// Resolve turns references into catalogue ids. Names match exactly, then case-insensitively;
// an unknown name or id is reported with the closest catalogue names.
func Resolve(field string, refs []accessv1alpha1.ResourceRef, catalogue []CatalogueItem) ([]string, []string) {
	byID := map[string]bool{}
	byName := map[string][]string{}
	byFold := map[string][]string{}
	for _, c := range catalogue {
		byID[c.ID] = true
		byName[c.Name] = append(byName[c.Name], c.ID)
		byFold[strings.ToLower(c.Name)] = append(byFold[strings.ToLower(c.Name)], c.ID)
	}
	var ids, problems []string
	for i, r := range refs {
		switch {
		case r.ID != "":
			if !byID[r.ID] {
				problems = append(problems, fmt.Sprintf("%s[%d]: id %q not found", field, i, r.ID))
				continue
			}
			ids = append(ids, r.ID)
		default:
			match := byName[r.Name]
			if len(match) == 0 {
				match = byFold[strings.ToLower(r.Name)]
			}
			switch len(match) {
			case 1:
				ids = append(ids, match[0])
			case 0:
				msg := fmt.Sprintf("%s[%d]: name %q not found", field, i, r.Name)
				if near := closest(r.Name, catalogue, 3); len(near) > 0 {
					msg += fmt.Sprintf(" (did you mean %s?)", strings.Join(near, ", "))
				}
				problems = append(problems, msg)
			default:
				sort.Strings(match)
				problems = append(problems, fmt.Sprintf("%s[%d]: name %q is ambiguous (ids %s); use id", field, i, r.Name, strings.Join(match, ", ")))
			}
		}
	}
	return ids, problems
}

// closest returns up to n catalogue names nearest to name by edit distance, quoted.
func closest(name string, catalogue []CatalogueItem, n int) []string {
	type cand struct {
		name string
		dist int
	}
	lname := strings.ToLower(name)
	limit := max(2, len(name)/3)
	var cands []cand
	seen := map[string]bool{}
	for _, c := range catalogue {
		if seen[c.Name] {
			continue
		}
		seen[c.Name] = true
		lc := strings.ToLower(c.Name)
		d := levenshtein(lname, lc)
		if d <= limit || (len(lname) >= 4 && (strings.Contains(lc, lname) || strings.Contains(lname, lc))) {
			cands = append(cands, cand{c.Name, d})
		}
	}
	sort.Slice(cands, func(i, j int) bool {
		if cands[i].dist != cands[j].dist {
			return cands[i].dist < cands[j].dist
		}
		return cands[i].name < cands[j].name
	})
	var out []string
	for i := 0; i < len(cands) && i < n; i++ {
		out = append(out, fmt.Sprintf("%q", cands[i].name))
	}
	return out
}

func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
