package plan

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	accessv1alpha1 "github.com/contactsync/contactsync/api/v1alpha1"
)

func TestHostUp(t *testing.T) {
	names := map[string]string{"1": "vps-a", "2": "web-b", "10": "example.com", "20": "example.com"}
	type args struct{ desired, observed HostUpState }
	cases := map[string]struct {
		reason string
		args   args
		want   []string
	}{
		"Equal": {
			reason: "identical permissions need no change",
			args: args{
				desired:  HostUpState{Services: []string{"2", "1"}, Rights: map[string]bool{"canViewInvoices": true}},
				observed: HostUpState{Services: []string{"1", "2"}, Rights: map[string]bool{"canViewInvoices": true, "canPlaceOrders": false}},
			},
		},
		"DuplicatesIgnored": {
			reason: "a duplicated id in the spec is one grant",
			args: args{
				desired:  HostUpState{Domains: []string{"10", "10"}},
				observed: HostUpState{Domains: []string{"10"}},
			},
		},
		"GrantAndRevoke": {
			reason: "missing ids are granted, extra ids revoked, named from the catalogue",
			args: args{
				desired:  HostUpState{Services: []string{"1"}, DNSZones: []string{"20"}},
				observed: HostUpState{Services: []string{"2"}},
			},
			want: []string{"services: grant vps-a (1)", "services: revoke web-b (2)", "dnsZones: grant example.com (20)"},
		},
		"Rights": {
			reason: "booleans are compared one by one in API order",
			args: args{
				desired:  HostUpState{Rights: map[string]bool{"canOpenTickets": true}},
				observed: HostUpState{Rights: map[string]bool{"accessAllVps": true}},
			},
			want: []string{"canOpenTickets: false -> true", "accessAllVps: true -> false"},
		},
		"RevokeAll": {
			reason: "an empty desired state revokes everything (deletionPolicy Revoke)",
			args: args{
				observed: HostUpState{Domains: []string{"10", "99"}, Rights: map[string]bool{"canPlaceOrders": true}},
			},
			want: []string{"domains: revoke example.com (10), 99", "canPlaceOrders: true -> false"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := HostUp(tc.args.desired, tc.args.observed, names)
			if diff := cmp.Diff(tc.want, got.Differences, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("%s\nHostUp(...): -want, +got:\n%s", tc.reason, diff)
			}
			if got.Empty() != (len(tc.want) == 0) {
				t.Errorf("%s\nEmpty() = %t", tc.reason, got.Empty())
			}
		})
	}
}

func TestOnlyOffice(t *testing.T) {
	names := map[string]string{"a": "Maria", LostUser: "Unknown"}
	type args struct{ desired, observed OnlyOfficeState }
	cases := map[string]struct {
		reason string
		args   args
		want   []string
	}{
		"PrivateEqualAsSets": {
			reason: "managers compare as sets; order is not preserved by the API",
			args: args{
				desired:  OnlyOfficeState{Managers: []string{"a", "b"}},
				observed: OnlyOfficeState{Managers: []string{"b", "a"}},
			},
		},
		"SharedIgnoresManagers": {
			reason: "a shared contact's managers are invisible and irrelevant",
			args: args{
				desired:  OnlyOfficeState{ShareType: ShareReadWrite},
				observed: OnlyOfficeState{ShareType: ShareReadWrite, Managers: []string{"x"}},
			},
		},
		"ReadToReadWrite": {
			reason: "a Read contact differs from the ReadWrite that shared:true stores",
			args: args{
				desired:  OnlyOfficeState{ShareType: ShareReadWrite},
				observed: OnlyOfficeState{ShareType: ShareRead},
			},
			want: []string{"shareType: Read -> ReadWrite"},
		},
		"MakePrivate": {
			reason: "making a shared contact private adds its managers",
			args: args{
				desired:  OnlyOfficeState{ShareType: ShareNone, Managers: []string{"a"}},
				observed: OnlyOfficeState{ShareType: ShareReadWrite},
			},
			want: []string{"shareType: ReadWrite -> None", "managers: add Maria (a)"},
		},
		"LostUserRemoved": {
			reason: "a removed user reads back as the lost-user id and is dropped",
			args: args{
				desired:  OnlyOfficeState{Managers: []string{"a"}},
				observed: OnlyOfficeState{Managers: []string{"a", LostUser}},
			},
			want: []string{"managers: remove Unknown (" + LostUser + ")"},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := OnlyOffice(tc.args.desired, tc.args.observed, names)
			if diff := cmp.Diff(tc.want, got.Differences, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("%s\nOnlyOffice(...): -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

const LostUser = "4a515a15-d4d6-4b8e-828e-e0586f18f3a3"

func TestResolve(t *testing.T) {
	cat := []CatalogueItem{{"10", "example.com"}, {"11", "example.se"}, {"12", "shop.example.com"}, {"13", "dup.se"}, {"14", "dup.se"}}
	cases := map[string]struct {
		reason       string
		refs         []accessv1alpha1.ResourceRef
		wantIDs      []string
		wantProblems []string
	}{
		"ByIDAndName": {
			reason:  "ids pass through, names resolve, case-insensitively as a fallback",
			refs:    []accessv1alpha1.ResourceRef{{ID: "12"}, {Name: "example.se"}, {Name: "EXAMPLE.COM"}},
			wantIDs: []string{"12", "11", "10"},
		},
		"UnknownNameSuggests": {
			reason:       "an unknown name names the closest catalogue entries",
			refs:         []accessv1alpha1.ResourceRef{{Name: "exmaple.com"}},
			wantProblems: []string{`domains[0]: name "exmaple.com" not found (did you mean "example.com"?)`},
		},
		"UnknownID": {
			reason:       "an id outside the catalogue is an error, never sent",
			refs:         []accessv1alpha1.ResourceRef{{ID: "999"}},
			wantProblems: []string{`domains[0]: id "999" not found`},
		},
		"Ambiguous": {
			reason:       "two catalogue entries with one name need an id",
			refs:         []accessv1alpha1.ResourceRef{{Name: "dup.se"}},
			wantProblems: []string{`domains[0]: name "dup.se" is ambiguous (ids 13, 14); use id`},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			ids, problems := Resolve("domains", tc.refs, cat)
			if diff := cmp.Diff(tc.wantIDs, ids, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("%s\nids: -want, +got:\n%s", tc.reason, diff)
			}
			if diff := cmp.Diff(tc.wantProblems, problems, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("%s\nproblems: -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestGate(t *testing.T) {
	r := Result{Differences: []string{"canPlaceOrders: false -> true"}}
	cases := map[string]struct {
		reason string
		policy accessv1alpha1.ManagementPolicy
		result Result
		want   Decision
	}{
		"EnforceWrites":      {"Enforce writes a non-empty plan", accessv1alpha1.ManagementEnforce, r, Decision{Write: true}},
		"ObserveHolds":       {"Observe never writes and reports the plan", accessv1alpha1.ManagementObserve, r, Decision{Pending: r.Differences}},
		"EmptyNoWrite":       {"an empty plan is no write under any policy", accessv1alpha1.ManagementEnforce, Result{}, Decision{}},
		"EmptyObserveNoPlan": {"an empty plan has nothing pending", accessv1alpha1.ManagementObserve, Result{}, Decision{}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, Gate(tc.policy, tc.result), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("%s\nGate: -want, +got:\n%s", tc.reason, diff)
			}
		})
	}
}

func TestGrantState(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	past, future := now.Add(-time.Hour), now.Add(time.Hour)
	cases := map[string]struct {
		reason string
		times  GrantTimes
		want   accessv1alpha1.GrantState
	}{
		"Pending":            {"an unaccepted invite before its expiry", GrantTimes{InviteExpiresAt: &future}, accessv1alpha1.GrantPending},
		"Expired":            {"an unaccepted invite past its expiry", GrantTimes{InviteExpiresAt: &past}, accessv1alpha1.GrantExpired},
		"ExpiresNow":         {"expiry is inclusive", GrantTimes{InviteExpiresAt: &now}, accessv1alpha1.GrantExpired},
		"Active":             {"accepted, whatever the expiry says", GrantTimes{InviteExpiresAt: &past, InviteAcceptedAt: &past}, accessv1alpha1.GrantActive},
		"ActiveByStatusOnly": {"the documented example has status active and null timestamps", GrantTimes{Status: "active"}, accessv1alpha1.GrantActive},
		"Revoked":            {"revoked wins over accepted", GrantTimes{Status: "active", InviteAcceptedAt: &past, RevokedAt: &now}, accessv1alpha1.GrantRevoked},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := GrantState(tc.times, now); got != tc.want {
				t.Errorf("%s: GrantState() = %s, want %s", tc.reason, got, tc.want)
			}
		})
	}
}
