package hostupcontact

import (
	"testing"

	"github.com/contactsync/contactsync/internal/hostup"
	"github.com/contactsync/contactsync/internal/plan"
)

func TestEffectiveAccessAll(t *testing.T) {
	perms := &hostup.Permissions{
		Services: []hostup.Resource{{ID: "1", Category: "vps"}, {ID: "2", Category: "vps"}, {ID: "3", Category: "hosting"}},
		Domains:  []hostup.Resource{{ID: "1"}, {ID: "9"}},
	}
	on := func(rights ...string) map[string]bool {
		m := map[string]bool{}
		for _, r := range rights {
			m[r] = true
		}
		return m
	}
	cases := map[string]struct {
		desired, observed plan.HostUpState
		wantDiff          bool
	}{
		"accessAllVps, HostUp lists only the stored items": {
			desired:  plan.HostUpState{Services: []string{"1"}, Rights: on("accessAllVps")},
			observed: plan.HostUpState{Services: []string{"1"}, Rights: on("accessAllVps")},
		},
		"accessAllVps, HostUp marks every VPS": {
			desired:  plan.HostUpState{Services: []string{"1"}, Rights: on("accessAllVps")},
			observed: plan.HostUpState{Services: []string{"1", "2"}, Rights: on("accessAllVps")},
		},
		"accessAllVps does not cover hosting": {
			desired:  plan.HostUpState{Services: []string{"1"}, Rights: on("accessAllVps")},
			observed: plan.HostUpState{Services: []string{"1", "2", "3"}, Rights: on("accessAllVps")},
			wantDiff: true,
		},
		"accessAllDomains covers every domain, not services with the same id": {
			desired:  plan.HostUpState{Domains: []string{"1"}, Rights: on("accessAllDomains")},
			observed: plan.HostUpState{Services: []string{"1"}, Domains: []string{"1", "9"}, Rights: on("accessAllDomains")},
			wantDiff: true, // service 1 is not desired
		},
		"flag off in HostUp: items still compared": {
			desired:  plan.HostUpState{Services: []string{"1"}, Rights: on("accessAllVps")},
			observed: plan.HostUpState{Services: []string{"1", "2"}, Rights: on()},
			wantDiff: true,
		},
	}
	for name, tc := range cases {
		d, o := Effective(tc.desired, tc.observed, perms)
		diff := plan.HostUp(d, o, nil).Differences
		if (len(diff) > 0) != tc.wantDiff {
			t.Errorf("%s: differences %q, want any: %v", name, diff, tc.wantDiff)
		}
	}
}
