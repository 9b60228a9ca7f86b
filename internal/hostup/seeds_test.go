package hostup

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The seed_* files are HostUp's doc examples copied verbatim from /work/shared/seeds (the
// "[email protected]" is the doc site's e-mail obfuscation, kept as-is). The
// seed_list_delegated_access_field_examples file is assembled from that page's per-field
// examples (its list example was cut off); doc_* files follow the reference's description of
// pages whose examples were not captured.

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func dataOf(t *testing.T, name string) (json.RawMessage, string) {
	t.Helper()
	data, rid, err := decodeEnvelope(readTestdata(t, name))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return data, rid
}

func TestSeedCreateContactResponse(t *testing.T) {
	data, rid := dataOf(t, "seed_create_contact_response.json")
	id, err := decodeCreateContact(data)
	if err != nil || id != 14087 || rid != "2121ae20-bd9d-41e9-aeeb-5dd1dd1a24ba" {
		t.Fatalf("id=%d rid=%q err=%v", id, rid, err)
	}
}

func TestSeedCreateContactRequestMatchesClient(t *testing.T) {
	var seed, ours map[string]any
	if err := json.Unmarshal(readTestdata(t, "seed_create_contact_request.json"), &seed); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(wireNewContact{Type: "contact", FirstName: "Anna", LastName: "Svensson", Email: "[email\u00a0protected]", Password: "YOUR_PASSWORD"})
	if err := json.Unmarshal(b, &ours); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(seed, ours); diff != "" {
		t.Errorf("request body (-doc +client):\n%s", diff)
	}
}

func TestSeedSetPermissionsRequestMatchesClient(t *testing.T) {
	// The documented request body, read with the GET decoder, re-encoded by SetPermissions'
	// encoder, must give the documented body back.
	raw := readTestdata(t, "seed_set_permissions_request.json")
	p, err := decodePermissions(raw)
	if err != nil {
		t.Fatal(err)
	}
	want := &Permissions{
		Services: []Resource{{ID: "14101", Name: "VPS XS", HasAccess: true}}, Domains: []Resource{}, DNSZones: []Resource{},
		CanViewInvoices: true, CanReceiveInvoices: true, CanOpenTickets: true, CanViewTickets: true, CanReceiveTicketEmails: true,
		CanCloseTickets: true, AccessAllVps: true, AccessAllHosting: true, CanPlaceOrders: true,
	}
	if diff := cmp.Diff(want, p); diff != "" {
		t.Fatalf("decoded (-want +got):\n%s", diff)
	}
	in := wireSetPermissions{
		Services: []wirePermItem{{ID: "14101", Name: "VPS XS", HasAccess: true}}, Domains: []wirePermItem{}, DNSZones: []wirePermItem{},
		CanViewInvoices: true, CanReceiveInvoices: true, CanOpenTickets: true, CanViewTickets: true, CanReceiveTicketEmails: true,
		CanCloseTickets: true, AccessAllVps: true, AccessAllHosting: true, CanPlaceOrders: true,
	}
	var seed, ours map[string]any
	b, _ := json.Marshal(in)
	_ = json.Unmarshal(b, &ours)
	_ = json.Unmarshal(raw, &seed)
	if diff := cmp.Diff(seed, ours); diff != "" {
		t.Errorf("request body (-doc +client):\n%s", diff)
	}
}

func TestSeedSetPermissionsResponse(t *testing.T) {
	data, rid := dataOf(t, "seed_set_permissions_response.json")
	var d struct{ Message string }
	if err := json.Unmarshal(data, &d); err != nil || d.Message != "Permissions updated successfully" || rid == "" {
		t.Fatalf("%+v %v", d, err)
	}
}

func TestSeedListDelegatedAccess(t *testing.T) {
	data, _ := dataOf(t, "seed_list_delegated_access_response.json")
	byMe, toMe, err := decodeGrants(data)
	if err != nil || byMe == nil || toMe == nil || len(byMe)+len(toMe) != 0 {
		t.Fatalf("byMe=%v toMe=%v err=%v", byMe, toMe, err)
	}

	data, _ = dataOf(t, "seed_list_delegated_access_field_examples.json")
	byMe, toMe, err = decodeGrants(data)
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Date(2026, 2, 10, 0, 0, 0, 0, time.UTC)
	want := []Grant{{
		ID: "4bd8f064-56d1-b5f5-67f1-39b28d50512c", GrantorClientID: "30000", GranteeClientID: "30000",
		GranteeEmail: "[email protected]", GranteeName: "Anna Svensson", InviteToken: "YOUR_TOKEN",
		Label: "Example Label", Status: "active", InviteAcceptedAt: &ts, CreatedAt: ts, UpdatedAt: ts,
	}}
	if diff := cmp.Diff(want, byMe); diff != "" {
		t.Errorf("grantedByMe (-want +got):\n%s", diff)
	}
	wantToMe := []Grant{{
		ID: "a750c736-fc8d-a03c-07a9-ee8c03970f1b", GrantorClientID: "30000", GranteeClientID: "30000",
		GrantorCompany: "Example AB", GrantorName: "Anna Svensson", Label: "Example Label", Status: "active",
		InviteAcceptedAt: &ts, CreatedAt: ts, UpdatedAt: ts,
	}}
	if diff := cmp.Diff(wantToMe, toMe); diff != "" {
		t.Errorf("grantedToMe (-want +got):\n%s", diff)
	}
}

func TestDocPermissionsWithStringLists(t *testing.T) {
	data, _ := dataOf(t, "doc_get_permissions_stub_strings.json")
	p, err := decodePermissions(data)
	if err != nil {
		t.Fatal(err)
	}
	want := &Permissions{
		Services:        []Resource{{ID: "14101", Name: "VPS XS", Type: "service", Category: "vps", HasAccess: true}},
		Domains:         []Resource{{ID: "21266", HasAccess: true, Bare: true}, {Name: "example.se", HasAccess: true, Bare: true}},
		DNSZones:        []Resource{{ID: "3034", HasAccess: true, Bare: true}},
		CanViewInvoices: true, CanOpenTickets: true, CanViewTickets: true, AccessAllHosting: true,
	}
	if diff := cmp.Diff(want, p); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestDocGrantPermissions(t *testing.T) {
	data, _ := dataOf(t, "doc_grant_permissions.json")
	gp, err := decodeGrantPermissions(data)
	if err != nil {
		t.Fatal(err)
	}
	want := &GrantPermissions{
		GrantID: "4bd8f064-56d1-b5f5-67f1-39b28d50512c", GranteeClientID: "30000", Label: "Example Label", CanRequestEpp: true,
		Permissions: Permissions{
			Services:         []Resource{{ID: "14101", Name: "VPS XS", Type: "service", Category: "vps", HasAccess: true}},
			Domains:          []Resource{{ID: "20750", Name: "example.com", Type: "domain", HasAccess: true}},
			DNSZones:         []Resource{{ID: "3034", Name: "example.com", Type: "dns_zone"}},
			AccessAllHosting: true, CanCloseTickets: true, CanOpenTickets: true, CanReceiveTicketEmails: true, CanViewTickets: true,
		},
	}
	if diff := cmp.Diff(want, gp); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
