package hostupfake_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/contactsync/contactsync/internal/hostup/hostupfake"
)

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func start(t *testing.T, fake *hostupfake.Server) string {
	t.Helper()
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	return srv.URL
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func do(t *testing.T, base, method, path, body string, hdr ...string) reply {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-API-Key", hostupfake.DefaultAPIKey)
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{resp.StatusCode, resp.Header, b}
}

func (r reply) object(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body %q: %v", r.body, err)
	}
	return m
}

func keys(v any) []string {
	m, _ := v.(map[string]any)
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sorted(s ...string) []string { sort.Strings(s); return s }

var (
	envelopeKeys  = sorted("success", "timestamp", "requestId", "data")
	legacyErrKeys = sorted("code", "error", "message", "requestId", "timestamp")
	flagKeys      = []string{"canViewInvoices", "canReceiveInvoices", "canOpenTickets", "canViewTickets", "canReceiveTicketEmails", "canCloseTickets", "accessAllVps", "accessAllHosting", "accessAllDomains", "canPlaceOrders"}
)

// TestEndpointFields checks that every answer carries the fields the reference lists.
func TestEndpointFields(t *testing.T) {
	fake := hostupfake.NewDemo()
	base := start(t, fake)
	check := func(name string, got, want []string) {
		t.Helper()
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s keys (-want +got):\n%s", name, diff)
		}
	}
	data := func(r reply, wantStatus int) map[string]any {
		t.Helper()
		if r.status != wantStatus {
			t.Fatalf("status %d, want %d: %s", r.status, wantStatus, r.body)
		}
		m := r.object(t)
		check("envelope", keys(m), envelopeKeys)
		if m["success"] != true {
			t.Errorf("success = %v", m["success"])
		}
		if _, err := time.Parse("2006-01-02T15:04:05.000Z", m["timestamp"].(string)); err != nil {
			t.Errorf("timestamp: %v", err)
		}
		if len(m["requestId"].(string)) != 36 {
			t.Errorf("requestId %v is not a UUID", m["requestId"])
		}
		return m["data"].(map[string]any)
	}

	d := data(do(t, base, "GET", "/api/session-info", ""), 200)
	check("session-info", keys(d), sorted("isContact", "authenticated", "authType", "canAccessCdn"))

	d = data(do(t, base, "POST", "/api/teams", `{"type":"contact","firstname":"A","lastname":"B","email":"a@b.c","password":"p","phonenumber":"","address1":"","city":"","country":"","postcode":""}`), 200)
	check("POST teams", keys(d), sorted("success", "contact_id", "call", "server_time"))
	if d["contact_id"].(float64) != 14002 || d["call"] != "addClientContact" {
		t.Errorf("POST teams data %v", d)
	}

	d = data(do(t, base, "GET", "/api/contacts/14000/permissions", ""), 200)
	check("GET permissions", keys(d), sorted(append([]string{"services", "domains", "dnsZones"}, flagKeys...)...))
	services, domains, zones := d["services"].([]any), d["domains"].([]any), d["dnsZones"].([]any)
	if len(services) != 5 || len(domains) != 3 || len(zones) != 3 {
		t.Fatalf("catalogue %d/%d/%d", len(services), len(domains), len(zones))
	}
	check("service", keys(services[0]), sorted("id", "name", "type", "category", "hasAccess"))
	check("domain", keys(domains[0]), sorted("id", "name", "type", "hasAccess"))
	check("dns zone", keys(zones[0]), sorted("id", "name", "type", "hasAccess"))
	if s := services[0].(map[string]any); s["id"] != "14101" || s["hasAccess"] != true || s["category"] != "vps" || s["type"] != "service" {
		t.Errorf("service %v", s)
	}
	if z := zones[0].(map[string]any); z["type"] != "dns_zone" {
		t.Errorf("zone %v", z)
	}

	d = data(do(t, base, "POST", "/api/contacts/14000/permissions", `{"services":[{"id":"14101","name":"VPS XS","hasAccess":true}],"domains":[],"dnsZones":[],"canViewInvoices":true,"canReceiveInvoices":true,"canOpenTickets":true,"canViewTickets":true,"canReceiveTicketEmails":true,"canCloseTickets":true,"accessAllVps":true,"accessAllHosting":true,"accessAllDomains":false,"canPlaceOrders":true}`), 200)
	check("POST permissions", keys(d), []string{"message"})

	d = data(do(t, base, "POST", "/api/delegated-access", `{"email":"x@example.com","label":"Example Label"}`), 201)
	check("POST delegated-access", keys(d), sorted("id", "inviteToken", "inviteExpiresAt", "createdAt"))
	grantID, token := d["id"].(string), d["inviteToken"].(string)

	d = data(do(t, base, "GET", "/api/delegated-access", ""), 200)
	check("GET delegated-access", keys(d), sorted("grantedByMe", "grantedToMe"))
	byMe := d["grantedByMe"].([]any)
	if len(byMe) != 2 || len(d["grantedToMe"].([]any)) != 0 {
		t.Fatalf("lists %v", d)
	}
	grantKeys := sorted("id", "grantor_client_id", "grantee_client_id", "grantee_company", "grantee_email", "grantee_name", "invite_email",
		"invite_token", "invite_expires_at", "invite_accepted_at", "label", "status", "revoked_at", "created_at", "updated_at")
	check("active grant", keys(byMe[0]), grantKeys)
	check("pending grant", keys(byMe[1]), grantKeys)
	active, pending := byMe[0].(map[string]any), byMe[1].(map[string]any)
	if active["status"] != "active" || active["invite_email"] != nil || active["invite_expires_at"] != nil || active["grantor_client_id"] != "30000" {
		t.Errorf("active grant %v", active)
	}
	if pending["status"] != "pending" || pending["invite_email"] != "x@example.com" || pending["grantee_client_id"] != nil || pending["invite_token"] != token {
		t.Errorf("pending grant %v", pending)
	}

	d = data(do(t, base, "GET", "/api/delegated-access/"+grantID+"?token="+token, ""), 200)
	check("invite lookup", keys(d), sorted("grantorClientId", "label", "inviteEmail", "expired"))

	d = data(do(t, base, "GET", "/api/delegated-access/"+grantID+"/permissions", ""), 200)
	check("grant permissions", keys(d), sorted(append([]string{"grant", "services", "domains", "dnsZones", "canRequestEpp"}, flagKeys...)...))
	check("grant", keys(d["grant"]), sorted("id", "granteeClientId", "label"))

	d = data(do(t, base, "DELETE", "/api/teams?id=14002&type=contact", ""), 200)
	check("DELETE teams", keys(d), sorted("call", "info", "server_time", "success"))

	r := do(t, base, "DELETE", "/api/delegated-access/"+grantID, "")
	check("legacy error", keys(r.object(t)), legacyErrKeys)
}

func TestErrorAnswers(t *testing.T) {
	fake := hostupfake.NewDemo()
	base := start(t, fake)
	okPerms := `"services":[],"domains":[],"dnsZones":[],"canViewInvoices":true,"canReceiveInvoices":true,"canOpenTickets":true,"canViewTickets":true,"canReceiveTicketEmails":true,"canCloseTickets":true,"accessAllVps":true,"accessAllHosting":true,"accessAllDomains":false`
	contact := `"type":"contact","firstname":"A","lastname":"B","email":"a@b.c","password":"p","phonenumber":"","address1":"","city":"","country":""`
	tests := map[string]struct {
		method, path, body string
		hdr                []string
		wantStatus         int
		wantCode, wantMsg  string
	}{
		"no key":                 {method: "GET", path: "/api/session-info", hdr: []string{"X-API-Key", ""}, wantStatus: 401, wantCode: "UNAUTHORIZED"},
		"wrong key":              {method: "GET", path: "/api/session-info", hdr: []string{"X-API-Key", "nope"}, wantStatus: 401, wantCode: "UNAUTHORIZED"},
		"wrong bearer":           {method: "GET", path: "/api/session-info", hdr: []string{"X-API-Key", "", "Authorization", "Bearer nope"}, wantStatus: 401, wantCode: "UNAUTHORIZED"},
		"bearer ok":              {method: "GET", path: "/api/session-info", hdr: []string{"X-API-Key", "", "Authorization", "Bearer " + hostupfake.DefaultAPIKey}, wantStatus: 200},
		"no key on unknown path": {method: "GET", path: "/api/nothing", hdr: []string{"X-API-Key", ""}, wantStatus: 401, wantCode: "UNAUTHORIZED"},
		"contact missing field":  {method: "POST", path: "/api/teams", body: "{" + contact + "}", wantStatus: 400, wantCode: "BAD_REQUEST", wantMsg: "Missing required parameters: postcode"},
		"contact empty email":    {method: "POST", path: "/api/teams", body: `{` + strings.Replace(contact, `"a@b.c"`, `""`, 1) + `,"postcode":""}`, wantStatus: 400, wantMsg: "email"},
		"contact wrong type":     {method: "POST", path: "/api/teams", body: `{` + strings.Replace(contact, `"contact"`, `"team"`, 1) + `,"postcode":""}`, wantStatus: 400},
		"contact not json":       {method: "POST", path: "/api/teams", body: `[1]`, wantStatus: 400},
		"delete no params":       {method: "DELETE", path: "/api/teams", wantStatus: 400, wantCode: "BAD_REQUEST", wantMsg: "Missing required parameters: type and id"},
		"delete unknown":         {method: "DELETE", path: "/api/teams?id=99&type=contact", wantStatus: 404, wantCode: "NOT_FOUND"},
		"perms bad id":           {method: "GET", path: "/api/contacts/abc/permissions", wantStatus: 400},
		"perms zero id":          {method: "GET", path: "/api/contacts/0/permissions", wantStatus: 400},
		"perms unknown contact":  {method: "GET", path: "/api/contacts/99/permissions", wantStatus: 404, wantCode: "NOT_FOUND"},
		"set unknown contact":    {method: "POST", path: "/api/contacts/99/permissions", body: "{" + okPerms + `,"canPlaceOrders":true}`, wantStatus: 404, wantCode: "NOT_FOUND"},
		"set missing field":      {method: "POST", path: "/api/contacts/14000/permissions", body: "{" + okPerms + "}", wantStatus: 400, wantCode: "BAD_REQUEST", wantMsg: "canPlaceOrders"},
		"set flag not bool":      {method: "POST", path: "/api/contacts/14000/permissions", body: "{" + okPerms + `,"canPlaceOrders":"yes"}`, wantStatus: 400},
		"set flag null":          {method: "POST", path: "/api/contacts/14000/permissions", body: "{" + okPerms + `,"canPlaceOrders":null}`, wantStatus: 400},
		"set unknown id":         {method: "POST", path: "/api/contacts/14000/permissions", body: "{" + strings.Replace(okPerms, `"dnsZones":[]`, `"dnsZones":[{"id":"1","name":"x","hasAccess":true}]`, 1) + `,"canPlaceOrders":true}`, wantStatus: 400, wantMsg: "unknown dns_zone id"},
		"set item without flag":  {method: "POST", path: "/api/contacts/14000/permissions", body: "{" + strings.Replace(okPerms, `"domains":[]`, `"domains":[{"id":"21266"}]`, 1) + `,"canPlaceOrders":true}`, wantStatus: 400},
		"grant without email":    {method: "POST", path: "/api/delegated-access", body: `{"label":"x"}`, wantStatus: 400},
		"delete grant is switch": {method: "DELETE", path: "/api/delegated-access/whatever", wantStatus: 400, wantCode: "BAD_REQUEST", wantMsg: "Not in a delegated access session"},
		"switch not modelled":    {method: "POST", path: "/api/delegated-access/whatever", body: `{}`, wantStatus: 501, wantCode: "NOT_IMPLEMENTED", wantMsg: "AcceptGrant"},
		"invite wrong token":     {method: "GET", path: "/api/delegated-access/whatever?token=x", wantStatus: 404, wantMsg: "Invite not found"},
		"invite without token":   {method: "GET", path: "/api/delegated-access/whatever", wantStatus: 400},
		"grant perms unknown":    {method: "GET", path: "/api/delegated-access/whatever/permissions", wantStatus: 404},
		"PUT permissions":        {method: "PUT", path: "/api/contacts/14000/permissions", body: `{}`, wantStatus: 501, wantCode: "NOT_IMPLEMENTED", wantMsg: "PUT /api/contacts/14000/permissions"},
		"list contacts":          {method: "GET", path: "/api/teams", wantStatus: 501, wantMsg: "GET /api/teams"},
		"v2":                     {method: "GET", path: "/api/v2/vps", wantStatus: 501, wantMsg: "GET /api/v2/vps"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := do(t, base, tc.method, tc.path, tc.body, tc.hdr...)
			if r.status != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", r.status, tc.wantStatus, r.body)
			}
			if tc.wantStatus < 300 {
				return
			}
			m := r.object(t)
			if diff := cmp.Diff(legacyErrKeys, keys(m)); diff != "" {
				t.Errorf("error keys (-want +got):\n%s", diff)
			}
			if tc.wantCode != "" && m["code"] != tc.wantCode {
				t.Errorf("code %v, want %s", m["code"], tc.wantCode)
			}
			if !strings.Contains(m["message"].(string), tc.wantMsg) {
				t.Errorf("message %q, want %q", m["message"], tc.wantMsg)
			}
		})
	}
	if fake.Writes() != 0 || len(fake.Contacts()) != 2 {
		t.Errorf("rejected calls changed state: writes=%d contacts=%d", fake.Writes(), len(fake.Contacts()))
	}
}

func TestRateLimit(t *testing.T) {
	clk := &clock{now: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}
	fake := hostupfake.New(hostupfake.WithClock(clk.Now))
	base := start(t, fake)
	if r := do(t, base, "GET", "/api/session-info", ""); r.header.Get("X-RateLimit-Limit") != "" {
		t.Fatal("rate-limit headers while the limit is off")
	}
	fake.SetRateLimit(1, 2)
	for i, wantRemaining := range []string{"1", "0"} {
		r := do(t, base, "GET", "/api/session-info", "")
		if r.status != 200 || r.header.Get("X-RateLimit-Limit") != "2" || r.header.Get("X-RateLimit-Remaining") != wantRemaining {
			t.Fatalf("call %d: %d %v", i, r.status, r.header)
		}
	}
	r := do(t, base, "GET", "/api/session-info", "")
	if r.status != 429 || r.header.Get("Retry-After") != "1" || r.header.Get("X-RateLimit-Remaining") != "0" {
		t.Fatalf("third call: %d %v", r.status, r.header)
	}
	reset, err := time.Parse(time.RFC3339, r.header.Get("X-RateLimit-Reset"))
	if err != nil || !reset.Equal(clk.Now().Add(2*time.Second)) {
		t.Errorf("X-RateLimit-Reset %q: %v", r.header.Get("X-RateLimit-Reset"), err)
	}
	if diff := cmp.Diff(sorted("error", "message", "retryAfter", "requestId"), keys(r.object(t))); diff != "" {
		t.Errorf("429 body keys (-want +got):\n%s", diff)
	}
	if got := fake.Injected(); !cmp.Equal(got, map[string]int{"ratelimit read": 1}) {
		t.Errorf("Injected after one 429: %v", got)
	}
	clk.Advance(time.Second)
	if r := do(t, base, "GET", "/api/session-info", ""); r.status != 200 {
		t.Fatalf("after a second: %d", r.status)
	}
	fake.SetRateLimit(0, 0)
	for range 5 {
		if r := do(t, base, "GET", "/api/session-info", ""); r.status != 200 {
			t.Fatalf("limit off: %d", r.status)
		}
	}
}

// statuses runs n calls and returns what each answered ("drop" for no answer).
func statuses(t *testing.T, fake *hostupfake.Server, n int) []string {
	t.Helper()
	base := start(t, fake)
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	var out []string
	for range n {
		req, _ := http.NewRequest("GET", base+"/api/contacts/14000/permissions", nil)
		req.Header.Set("X-API-Key", hostupfake.DefaultAPIKey)
		resp, err := client.Do(req)
		if err != nil {
			out = append(out, "drop")
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		kind := fmt.Sprint(resp.StatusCode)
		if resp.StatusCode == 200 && !json.Valid(b) {
			kind += "-bad-json"
		}
		out = append(out, kind)
	}
	return out
}

func TestRandomFaultsAreSeeded(t *testing.T) {
	faults := hostupfake.Faults{ErrorRate: 0.2, ErrorStatuses: []int{500, 502, 503}, DropRate: 0.05, MalformedRate: 0.05, TruncateRate: 0.05}
	run := func(seed uint64) []string {
		fake := hostupfake.NewDemo(hostupfake.WithSeed(seed))
		fake.SetFaults(faults)
		return statuses(t, fake, 200)
	}
	a, b, c := run(7), run(7), run(8)
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("same seed, different faults (-a +b):\n%s", diff)
	}
	if cmp.Equal(a, c) {
		t.Error("different seeds gave the same faults")
	}
	count := map[string]int{}
	for _, s := range a {
		count[s]++
	}
	if count["200"] < 100 || count["500"]+count["502"]+count["503"] < 20 || count["drop"] == 0 || count["200-bad-json"] == 0 {
		t.Errorf("fault mix %v", count)
	}
}

func TestProgrammedFaults(t *testing.T) {
	fake := hostupfake.NewDemo()
	base := start(t, fake)
	fake.Program("GET /api/contacts/{id}/permissions", 2, hostupfake.Fault{Status: 503})
	got := []int{}
	for range 3 {
		got = append(got, do(t, base, "GET", "/api/contacts/14000/permissions", "").status)
	}
	if diff := cmp.Diff([]int{503, 503, 200}, got); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
	if r := do(t, base, "GET", "/api/session-info", ""); r.status != 200 {
		t.Errorf("other route hit by the fault: %d", r.status)
	}

	// AfterApply: the contact is created, the caller sees a 500.
	fake.Program("POST /api/teams", 1, hostupfake.Fault{Status: 500, AfterApply: true})
	body := `{"type":"contact","firstname":"A","lastname":"B","email":"a@b.c","password":"p","phonenumber":"","address1":"","city":"","country":"","postcode":""}`
	if r := do(t, base, "POST", "/api/teams", body); r.status != 500 {
		t.Fatalf("status %d", r.status)
	}
	if fake.Writes() != 1 || len(fake.Contacts()) != 3 {
		t.Errorf("AfterApply: writes=%d contacts=%d", fake.Writes(), len(fake.Contacts()))
	}
	// Before-apply faults change nothing.
	fake.Program("*", 1, hostupfake.Fault{Drop: true})
	if _, err := http.Post(base+"/api/teams", "application/json", strings.NewReader(body)); err == nil {
		t.Error("dropped call returned an answer")
	}
	fake.Program("POST /api/teams", 1, hostupfake.Fault{AddContactFailure: true})
	r := do(t, base, "POST", "/api/teams", body)
	d := r.object(t)["data"].(map[string]any)
	if r.status != 200 || d["success"] != false || d["error"] != "Failed to add contact" {
		t.Errorf("AddContactFailure: %d %s", r.status, r.body)
	}
	if fake.Writes() != 1 || len(fake.Contacts()) != 3 {
		t.Errorf("failed creates changed state: writes=%d contacts=%d", fake.Writes(), len(fake.Contacts()))
	}

	want := map[string]int{"status read": 2, "status write": 1, "drop write": 1}
	if diff := cmp.Diff(want, fake.Injected()); diff != "" {
		t.Errorf("Injected (-want +got):\n%s", diff)
	}
	fake.Program("GET /api/session-info", 5, hostupfake.Fault{Status: 500})
	fake.ClearFaults()
	if r := do(t, base, "GET", "/api/session-info", ""); r.status != 200 {
		t.Errorf("after ClearFaults: %d", r.status)
	}
}

func TestTruncateAndLatency(t *testing.T) {
	fake := hostupfake.NewDemo()
	base := start(t, fake)
	full := do(t, base, "GET", "/api/session-info", "")
	fake.Program("GET /api/session-info", 1, hostupfake.Fault{Truncate: true})
	cut := do(t, base, "GET", "/api/session-info", "")
	if cut.status != 200 || json.Valid(cut.body) || len(cut.body) != len(full.body)/2 {
		t.Errorf("truncated body %q", cut.body)
	}
	fake.SetFaults(hostupfake.Faults{Latency: 80 * time.Millisecond, Jitter: 10 * time.Millisecond})
	start := time.Now()
	do(t, base, "GET", "/api/session-info", "")
	if d := time.Since(start); d < 80*time.Millisecond {
		t.Errorf("latency %v", d)
	}
	fake.SetFaults(hostupfake.Faults{SpikeRate: 1, Spike: 100 * time.Millisecond})
	start = time.Now()
	do(t, base, "GET", "/api/session-info", "")
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Errorf("spike %v", d)
	}
}

func TestCounters(t *testing.T) {
	fake := hostupfake.NewDemo()
	base := start(t, fake)
	do(t, base, "GET", "/api/contacts/14000/permissions", "")
	do(t, base, "GET", "/api/contacts/14001/permissions", "")
	do(t, base, "PUT", "/api/teams", "")
	do(t, base, "GET", "/api/session-info", "", "X-API-Key", "") // 401 still counts
	want := map[string]int{"GET /api/contacts/{id}/permissions": 2, "PUT /api/teams": 1, "GET /api/session-info": 1}
	if diff := cmp.Diff(want, fake.Counts()); diff != "" {
		t.Errorf("counts (-want +got):\n%s", diff)
	}
	if fake.Calls("GET /api/contacts/{id}/permissions") != 2 || fake.Writes() != 0 {
		t.Errorf("Calls=%d Writes=%d", fake.Calls("GET /api/contacts/{id}/permissions"), fake.Writes())
	}
	fake.ResetCounters()
	if len(fake.Counts()) != 0 || fake.Writes() != 0 {
		t.Error("ResetCounters left counts")
	}
}

func TestHooks(t *testing.T) {
	clk := &clock{now: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}
	fake := hostupfake.NewDemo(hostupfake.WithClock(clk.Now), hostupfake.WithInviteTTL(time.Hour))
	base := start(t, fake)

	if err := fake.AddService("1", "x", "dedicated"); err == nil {
		t.Error("bad category accepted")
	}
	if err := fake.AddDomain("14101", "dup"); err == nil {
		t.Error("duplicate id accepted")
	}
	if err := fake.AddDNSZone("zone_1", "x"); err == nil {
		t.Error("non-numeric id accepted")
	}
	if err := fake.SetContactPermissions(1, hostupfake.Permissions{}); err == nil {
		t.Error("unknown contact accepted")
	}
	if err := fake.SetContactPermissions(14000, hostupfake.Permissions{Services: []string{"21266"}}); err == nil {
		t.Error("a domain id accepted as a service")
	}

	// Drift injected by a "person in the dashboard" shows in the API and is no write.
	must(t, fake.SetContactPermissions(14000, hostupfake.Permissions{Services: []string{"14103", "14101", "14101"}, AccessAllDomains: true}))
	p, _ := fake.ContactPermissions(14000)
	if diff := cmp.Diff([]string{"14101", "14103"}, p.Services); diff != "" || !p.AccessAllDomains || fake.Writes() != 0 {
		t.Errorf("stored %+v writes=%d", p, fake.Writes())
	}
	d := do(t, base, "GET", "/api/contacts/14000/permissions", "").object(t)["data"].(map[string]any)
	var granted []string
	for _, s := range d["services"].([]any) {
		if s.(map[string]any)["hasAccess"] == true {
			granted = append(granted, s.(map[string]any)["id"].(string))
		}
	}
	if diff := cmp.Diff([]string{"14101", "14103"}, granted); diff != "" {
		t.Errorf("API shows (-want +got):\n%s", diff)
	}

	r := do(t, base, "POST", "/api/delegated-access", `{"email":"a@b.c"}`).object(t)["data"].(map[string]any)
	id := r["id"].(string)
	clk.Advance(2 * time.Hour)
	if err := fake.AcceptGrant(id, "1", "n", "e", "c"); err == nil {
		t.Error("accepted an expired invite")
	}
	gs := fake.Grants()
	if gs[len(gs)-1].Status != hostupfake.StatusExpired {
		t.Errorf("status %q", gs[len(gs)-1].Status)
	}
	lookup := do(t, base, "GET", "/api/delegated-access/"+id+"?token="+r["inviteToken"].(string), "").object(t)["data"].(map[string]any)
	if lookup["expired"] != true {
		t.Errorf("lookup %v", lookup)
	}
	must(t, fake.RevokeGrant(id))
	if err := fake.RevokeGrant(id); err == nil {
		t.Error("revoked twice")
	}
	if err := fake.AcceptGrant("nope", "", "", "", ""); err == nil {
		t.Error("unknown grant accepted")
	}
	if gs := fake.Grants(); gs[0].Status != hostupfake.StatusActive || gs[1].Status != hostupfake.StatusRevoked {
		t.Errorf("statuses %q %q", gs[0].Status, gs[1].Status)
	}
}

func TestLoopbackListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: hostupfake.NewDemo(), ReadHeaderTimeout: time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	r := do(t, "http://"+ln.Addr().String(), "GET", "/api/session-info", "")
	if r.status != 200 {
		t.Fatalf("status %d", r.status)
	}
}

func TestConcurrentUse(t *testing.T) {
	fake := hostupfake.NewDemo()
	fake.SetFaults(hostupfake.Faults{ErrorRate: 0.1})
	base := start(t, fake)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := fmt.Sprintf(`{"type":"contact","firstname":"A","lastname":"B","email":"u%d@b.c","password":"p","phonenumber":"","address1":"","city":"","country":"","postcode":""}`, i)
			req, _ := http.NewRequest("POST", base+"/api/teams", bytes.NewReader([]byte(body)))
			req.Header.Set("X-API-Key", hostupfake.DefaultAPIKey)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
			_ = fake.Contacts()
			_ = fake.Grants()
			_ = fake.Counts()
			fake.SetFaults(hostupfake.Faults{ErrorRate: float64(i%3) / 10})
		}()
	}
	wg.Wait()
	if got := fake.Calls("POST /api/teams"); got != 20 {
		t.Errorf("calls %d", got)
	}
	if fake.Writes() != len(fake.Contacts())-2 {
		t.Errorf("writes %d, contacts %d", fake.Writes(), len(fake.Contacts()))
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
