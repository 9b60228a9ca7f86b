package plan

import (
	"fmt"
	"sort"
	"strings"

	accessv1alpha1 "github.com/contactsync/contactsync/api/v1alpha1"
)

// Rights are the HostUp contact booleans, by their API names, in the order the API lists them.
var Rights = []string{
	"canViewInvoices", "canReceiveInvoices", "canOpenTickets", "canViewTickets",
	"canReceiveTicketEmails", "canCloseTickets", "canPlaceOrders",
	"accessAllVps", "accessAllHosting", "accessAllDomains",
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
	return map[string]bool{
		"canViewInvoices":        p.CanViewInvoices,
		"canReceiveInvoices":     p.CanReceiveInvoices,
		"canOpenTickets":         p.CanOpenTickets,
		"canViewTickets":         p.CanViewTickets,
		"canReceiveTicketEmails": p.CanReceiveTicketEmails,
		"canCloseTickets":        p.CanCloseTickets,
		"canPlaceOrders":         p.CanPlaceOrders,
		"accessAllVps":           p.AccessAllVps,
		"accessAllHosting":       p.AccessAllHosting,
		"accessAllDomains":       p.AccessAllDomains,
	}
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

// UnknownRefError lists names (or ids) that are not in the account's catalogue.
type UnknownRefError struct {
	Problems []string
}

func (e *UnknownRefError) Error() string {
	return "not in the account's catalogue: " + strings.Join(e.Problems, "; ")
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
