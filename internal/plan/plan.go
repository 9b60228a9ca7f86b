// Package plan computes, as pure functions, what must change in a provider for its observed
// state to equal the desired one, and a readable list of the differences. Like external-dns's
// plan.Calculate it knows nothing of HTTP or Kubernetes; management policies are values
// applied to a computed plan (Gate), not branches in the reconcile loop.
package plan

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	accessv1alpha1 "github.com/contactsync/contactsync/api/v1alpha1"
)

// Result is a computed plan.
type Result struct {
	// Differences between desired and observed, one readable line each, in a stable order.
	Differences []string
}

// Empty reports whether nothing differs.
func (r Result) Empty() bool { return len(r.Differences) == 0 }

// Decision is a plan with the management policy applied.
type Decision struct {
	// Write is true when the change must be sent to the provider.
	Write bool
	// Pending lists the changes held back (for status.plan under Observe).
	Pending []string
}

// Gate applies a management policy to a plan: Observe never writes and reports the plan as
// pending; Enforce writes when something differs.
func Gate(p accessv1alpha1.ManagementPolicy, r Result) Decision {
	if r.Empty() {
		return Decision{}
	}
	if p == accessv1alpha1.ManagementObserve {
		return Decision{Pending: slices.Clone(r.Differences)}
	}
	return Decision{Write: true}
}

// sortedSet returns the distinct values of s, sorted.
func sortedSet(s []string) []string {
	out := slices.Clone(s)
	sort.Strings(out)
	return slices.Compact(out)
}

// setDiff returns what is in a but not in b; both sorted sets.
func setDiff(a, b []string) []string {
	var out []string
	for _, x := range a {
		if _, found := slices.BinarySearch(b, x); !found {
			out = append(out, x)
		}
	}
	return out
}

func label(id string, names map[string]string) string {
	if n := names[id]; n != "" && n != id {
		return fmt.Sprintf("%s (%s)", n, id)
	}
	return id
}

func labels(ids []string, names map[string]string) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = label(id, names)
	}
	return strings.Join(parts, ", ")
}
