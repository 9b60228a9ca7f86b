package hostup

import (
	"context"
	"encoding/json"
	"errors"
	"io"
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

// newFake starts a fake and a client for it.
func newFake(t *testing.T, fake *hostupfake.Server, mod ...func(*Config)) *Client {
	t.Helper()
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	cfg := Config{BaseURL: srv.URL + "/api", APIKey: hostupfake.DefaultAPIKey, Timeout: 5 * time.Second}
	for _, m := range mod {
		m(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// newRaw starts a server answering with h and a client for it.
func newRaw(t *testing.T, h http.HandlerFunc, mod ...func(*Config)) *Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	cfg := Config{BaseURL: srv.URL + "/api", APIKey: "k-123", Timeout: 5 * time.Second}
	for _, m := range mod {
		m(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNewValidates(t *testing.T) {
	tests := map[string]struct {
		cfg     Config
		wantErr string
	}{
		"defaults":            {cfg: Config{APIKey: "k"}},
		"http":                {cfg: Config{BaseURL: "http://127.0.0.1:8080/api", APIKey: "k"}},
		"bearer":              {cfg: Config{APIKey: "k", AuthScheme: AuthBearer}},
		"crd value":           {cfg: Config{APIKey: "k", AuthScheme: "APIKeyHeader"}},
		"empty key":           {cfg: Config{}, wantErr: "API key is empty"},
		"blank key":           {cfg: Config{APIKey: "  "}, wantErr: "API key is empty"},
		"key with newline":    {cfg: Config{APIKey: "a\nb"}, wantErr: "control characters"},
		"relative":            {cfg: Config{BaseURL: "/api", APIKey: "k"}, wantErr: "absolute http(s) URL"},
		"ftp":                 {cfg: Config{BaseURL: "ftp://x/api", APIKey: "k"}, wantErr: "absolute http(s) URL"},
		"userinfo":            {cfg: Config{BaseURL: "https://u:p@x/api", APIKey: "k"}, wantErr: "absolute http(s) URL"},
		"query":               {cfg: Config{BaseURL: "https://x/api?a=b", APIKey: "k"}, wantErr: "absolute http(s) URL"},
		"unknown auth scheme": {cfg: Config{APIKey: "k", AuthScheme: "Basic"}, wantErr: "unknown auth scheme"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := New(tc.cfg)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("New error = %v, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

func TestAuthHeaders(t *testing.T) {
	tests := map[string]struct {
		scheme     AuthScheme
		wantKey    string
		wantBearer string
	}{
		"default": {wantKey: "k-123"},
		"x-api":   {scheme: AuthAPIKey, wantKey: "k-123"},
		"bearer":  {scheme: AuthBearer, wantBearer: "Bearer k-123"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var gotKey, gotAuth string
			c := newRaw(t, func(w http.ResponseWriter, r *http.Request) {
				gotKey, gotAuth = r.Header.Get("X-API-Key"), r.Header.Get("Authorization")
				_, _ = io.WriteString(w, `{"success":true,"data":{"authenticated":true,"isContact":false,"authType":"api_key","canAccessCdn":false}}`)
			}, func(c *Config) { c.AuthScheme = tc.scheme })
			if _, err := c.SessionInfo(context.Background()); err != nil {
				t.Fatal(err)
			}
			if gotKey != tc.wantKey || gotAuth != tc.wantBearer {
				t.Errorf("X-API-Key=%q Authorization=%q, want %q %q", gotKey, gotAuth, tc.wantKey, tc.wantBearer)
			}
		})
	}
}

func TestBothAuthSchemesAgainstFake(t *testing.T) {
	for _, scheme := range []AuthScheme{AuthAPIKey, AuthBearer} {
		c := newFake(t, hostupfake.New(), func(c *Config) { c.AuthScheme = scheme })
		si, err := c.SessionInfo(context.Background())
		if err != nil {
			t.Fatalf("%s: %v", scheme, err)
		}
		if diff := cmp.Diff(&SessionInfo{Authenticated: true, CanAccessCdn: true, AuthType: "api_key"}, si); diff != "" {
			t.Errorf("%s: session info (-want +got):\n%s", scheme, diff)
		}
	}
}

func TestContactLifecycle(t *testing.T) {
	ctx := context.Background()
	fake := hostupfake.NewDemo()
	c := newFake(t, fake)

	id, err := c.CreateContact(ctx, NewContact{FirstName: "Nils", LastName: "Ek", Email: "nils@example.com", Password: "pw", Country: "SE"})
	if err != nil {
		t.Fatal(err)
	}
	if id != 14002 {
		t.Errorf("contact id = %d, want 14002 (after the demo's 14000 and 14001)", id)
	}
	got := fake.Contacts()
	want := hostupfake.Contact{ID: id, FirstName: "Nils", LastName: "Ek", Email: "nils@example.com", Password: "pw", Country: "SE"}
	if diff := cmp.Diff(want, got[len(got)-1]); diff != "" {
		t.Errorf("stored contact (-want +got):\n%s", diff)
	}

	p, err := c.GetPermissions(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Services) != 5 || len(p.Domains) != 3 || len(p.DNSZones) != 3 {
		t.Fatalf("catalogue sizes %d/%d/%d, want 5/3/3", len(p.Services), len(p.Domains), len(p.DNSZones))
	}
	for _, r := range append(append(p.Services, p.Domains...), p.DNSZones...) {
		if r.HasAccess {
			t.Errorf("new contact has access to %+v", r)
		}
	}
	if diff := cmp.Diff(Resource{ID: "14101", Name: "VPS XS", Type: "service", Category: "vps"}, p.Services[0]); diff != "" {
		t.Errorf("first service (-want +got):\n%s", diff)
	}

	// Grant one VPS, one domain and all hosting; send the catalogue back with flags.
	p.Services[1].HasAccess = true
	p.Domains[2].HasAccess = true
	p.AccessAllHosting, p.CanOpenTickets = true, true
	if err := c.SetPermissions(ctx, id, p); err != nil {
		t.Fatal(err)
	}
	stored, _ := fake.ContactPermissions(id)
	wantStored := hostupfake.Permissions{Services: []string{"14102"}, Domains: []string{"20750"}, DNSZones: []string{}, AccessAllHosting: true, CanOpenTickets: true}
	if diff := cmp.Diff(wantStored, stored, cmpEmpty); diff != "" {
		t.Errorf("stored permissions (-want +got):\n%s", diff)
	}
	again, err := c.GetPermissions(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(p, again); diff != "" {
		t.Errorf("read back (-set +got):\n%s", diff)
	}

	// Sending the same again is no write.
	writes := fake.Writes()
	if err := c.SetPermissions(ctx, id, again); err != nil {
		t.Fatal(err)
	}
	if fake.Writes() != writes {
		t.Errorf("an unchanged SetPermissions counted as a write")
	}

	if err := c.DeleteContact(ctx, id); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetPermissions(ctx, id)
	if !IsNotFound(err) {
		t.Fatalf("GetPermissions after delete: %v, want not found", err)
	}
	if err := c.DeleteContact(ctx, id); !IsNotFound(err) {
		t.Fatalf("second delete: %v, want not found", err)
	}
	if n := fake.Calls("DELETE /api/teams"); n != 2 {
		t.Errorf("DELETE /api/teams calls = %d, want 2", n)
	}
}

// cmpEmpty treats nil and empty slices alike.
var cmpEmpty = cmp.Transformer("nilToEmpty", func(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
})

func TestSetPermissionsSendsEveryField(t *testing.T) {
	var body map[string]json.RawMessage
	var path, method string
	c := newRaw(t, func(w http.ResponseWriter, r *http.Request) {
		path, method = r.URL.Path, r.Method
		_ = json.NewDecoder(r.Body).Decode(&body)
		_, _ = io.WriteString(w, `{"success":true,"data":{"message":"Permissions updated successfully"}}`)
	})
	err := c.SetPermissions(context.Background(), 10456, &Permissions{Services: []Resource{{ID: "14101", Name: "VPS XS", HasAccess: true}}})
	if err != nil {
		t.Fatal(err)
	}
	if method != http.MethodPost || path != "/api/contacts/10456/permissions" {
		t.Errorf("request %s %s", method, path)
	}
	var keys []string
	for k := range body {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	want := []string{"accessAllDomains", "accessAllHosting", "accessAllVps", "canCloseTickets", "canOpenTickets", "canPlaceOrders",
		"canReceiveInvoices", "canReceiveTicketEmails", "canViewInvoices", "canViewTickets", "dnsZones", "domains", "services"}
	if diff := cmp.Diff(want, keys); diff != "" {
		t.Errorf("body keys (-want +got):\n%s", diff)
	}
	if string(body["domains"]) != "[]" || string(body["services"]) != `[{"id":"14101","name":"VPS XS","hasAccess":true}]` {
		t.Errorf("lists: domains=%s services=%s", body["domains"], body["services"])
	}
}

func TestSetPermissionsRejectedByFake(t *testing.T) {
	ctx := context.Background()
	fake := hostupfake.NewDemo()
	c := newFake(t, fake)
	tests := map[string]struct {
		id         int64
		p          Permissions
		wantStatus int
	}{
		"unknown service":       {id: 14000, p: Permissions{Services: []Resource{{ID: "999", HasAccess: true}}}, wantStatus: 400},
		"domain id as service":  {id: 14000, p: Permissions{Services: []Resource{{ID: "21266", HasAccess: true}}}, wantStatus: 400},
		"unknown contact":       {id: 99999, p: Permissions{}, wantStatus: 404},
		"unknown id not access": {id: 14000, p: Permissions{DNSZones: []Resource{{ID: "999", HasAccess: false}}}, wantStatus: 0},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := c.SetPermissions(ctx, tc.id, &tc.p)
			var e *Error
			switch {
			case tc.wantStatus == 0 && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tc.wantStatus != 0 && (!errors.As(err, &e) || e.HTTPStatus != tc.wantStatus):
				t.Fatalf("error %v, want HTTP %d", err, tc.wantStatus)
			}
		})
	}
	if err := c.SetPermissions(ctx, 14000, &Permissions{Services: []Resource{{Name: "no id"}}}); err == nil || !strings.Contains(err.Error(), "has no id") {
		t.Errorf("item without id: %v", err)
	}
}

func TestGrantLifecycle(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	fake := hostupfake.New(hostupfake.WithClock(clock), hostupfake.WithInviteTTL(48*time.Hour))
	must(t, fake.AddService("14101", "VPS XS", "vps"))
	must(t, fake.AddDomain("20750", "example.com"))
	must(t, fake.AddDNSZone("3034", "example.com"))
	c := newFake(t, fake)

	inv, err := c.CreateGrant(ctx, "karin@consult.example", "Consultant")
	if err != nil {
		t.Fatal(err)
	}
	if inv.ID == "" || len(inv.InviteToken) < 16 || !inv.CreatedAt.Equal(now) || !inv.InviteExpiresAt.Equal(now.Add(48*time.Hour)) {
		t.Fatalf("invite %+v", inv)
	}
	expired, err := c.CreateGrant(ctx, "late@example.com", "")
	if err != nil {
		t.Fatal(err)
	}

	byMe, toMe, err := c.ListGrants(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(byMe) != 2 || len(toMe) != 0 {
		t.Fatalf("byMe=%d toMe=%d", len(byMe), len(toMe))
	}
	exp := now.Add(48 * time.Hour)
	want := Grant{ID: inv.ID, GrantorClientID: "30000", InviteEmail: "karin@consult.example", Label: "Consultant", Status: GrantPending,
		InviteToken: inv.InviteToken, InviteExpiresAt: &exp, CreatedAt: now, UpdatedAt: now}
	if diff := cmp.Diff(want, byMe[0]); diff != "" {
		t.Errorf("pending grant (-want +got):\n%s", diff)
	}

	advance(time.Hour)
	must(t, fake.AcceptGrant(inv.ID, "30412", "Karin Berg", "karin@consult.example", "Berg IT AB"))
	must(t, fake.SetGrantPermissions(inv.ID, hostupfake.GrantPermissions{CanRequestEpp: true,
		Permissions: hostupfake.Permissions{Domains: []string{"20750"}, AccessAllVps: true}}))
	advance(48 * time.Hour) // the second invite expires
	byMe, _, err = c.ListGrants(ctx)
	if err != nil {
		t.Fatal(err)
	}
	accepted := now.Add(-48 * time.Hour)
	want = Grant{ID: inv.ID, GrantorClientID: "30000", GranteeClientID: "30412", GranteeName: "Karin Berg", GranteeEmail: "karin@consult.example",
		GranteeCompany: "Berg IT AB", Label: "Consultant", Status: GrantActive, InviteToken: inv.InviteToken,
		InviteAcceptedAt: &accepted, CreatedAt: accepted.Add(-time.Hour), UpdatedAt: accepted}
	if diff := cmp.Diff(want, byMe[0]); diff != "" {
		t.Errorf("accepted grant (-want +got):\n%s", diff)
	}
	if byMe[1].ID != expired.ID || byMe[1].Status != GrantExpired {
		t.Errorf("second grant %+v, want expired", byMe[1])
	}

	gp, err := c.GetGrantPermissions(ctx, inv.ID)
	if err != nil {
		t.Fatal(err)
	}
	wantGP := &GrantPermissions{GrantID: inv.ID, GranteeClientID: "30412", Label: "Consultant", CanRequestEpp: true,
		Permissions: Permissions{
			Services:     []Resource{{ID: "14101", Name: "VPS XS", Type: "service", Category: "vps"}},
			Domains:      []Resource{{ID: "20750", Name: "example.com", Type: "domain", HasAccess: true}},
			DNSZones:     []Resource{{ID: "3034", Name: "example.com", Type: "dns_zone"}},
			AccessAllVps: true,
		}}
	if diff := cmp.Diff(wantGP, gp); diff != "" {
		t.Errorf("grant permissions (-want +got):\n%s", diff)
	}

	// DELETE is "switch back", not revoke: HostUp's documented 400, and nothing changes.
	err = c.DeleteGrant(ctx, inv.ID)
	var e *Error
	if !errors.As(err, &e) || e.HTTPStatus != 400 || e.Message != "Not in a delegated access session" || e.Code != "BAD_REQUEST" {
		t.Fatalf("DeleteGrant: %v", err)
	}
	must(t, fake.RevokeGrant(inv.ID))
	byMe, _, err = c.ListGrants(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if byMe[0].Status != GrantRevoked || byMe[0].RevokedAt == nil || !byMe[0].RevokedAt.Equal(now) {
		t.Errorf("revoked grant %+v", byMe[0])
	}
	if _, err := c.GetGrantPermissions(ctx, "00000000-0000-4000-8000-000000000000"); !IsNotFound(err) {
		t.Errorf("unknown grant: %v", err)
	}
}

func TestClientSideValidation(t *testing.T) {
	ctx := context.Background()
	calls := 0
	c := newRaw(t, func(w http.ResponseWriter, r *http.Request) { calls++ })
	errs := []error{
		func() error {
			_, err := c.CreateContact(ctx, NewContact{FirstName: "a", LastName: "b", Email: "c"})
			return err
		}(),
		c.DeleteContact(ctx, 0),
		func() error { _, err := c.GetPermissions(ctx, -1); return err }(),
		c.SetPermissions(ctx, 1, nil),
		func() error { _, err := c.CreateGrant(ctx, "", "x"); return err }(),
		func() error { _, err := c.GetGrantPermissions(ctx, ""); return err }(),
	}
	for i, err := range errs {
		if err == nil || !strings.HasPrefix(err.Error(), "cannot ") {
			t.Errorf("case %d: error %v", i, err)
		}
	}
	if calls != 0 {
		t.Errorf("invalid input reached the server %d times", calls)
	}
}

func TestRedirectNotFollowed(t *testing.T) {
	var leaked string
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { leaked = r.Header.Get("X-API-Key") }))
	t.Cleanup(target.Close)
	c := newRaw(t, func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, target.URL, http.StatusFound) })
	_, err := c.SessionInfo(context.Background())
	var e *Error
	if !errors.As(err, &e) || e.HTTPStatus != http.StatusFound {
		t.Fatalf("error %v, want a typed 302", err)
	}
	if leaked != "" {
		t.Error("the key was sent to the redirect target")
	}
}

func TestConcurrentCallsAgainstFake(t *testing.T) {
	ctx := context.Background()
	fake := hostupfake.NewDemo()
	c := newFake(t, fake, func(c *Config) { c.RequestsPerSecond, c.Burst = 1000, 50 })
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id, err := c.CreateContact(ctx, NewContact{FirstName: "P", LastName: "Q", Email: "same@example.com", Password: "x"})
			if err != nil {
				errs <- err
				return
			}
			p, err := c.GetPermissions(ctx, id)
			if err != nil {
				errs <- err
				return
			}
			p.Services[i%len(p.Services)].HasAccess = true
			if err := c.SetPermissions(ctx, id, p); err != nil {
				errs <- err
			}
			if _, _, err := c.ListGrants(ctx); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// Duplicate e-mails are accepted by the fake, as (undocumented) HostUp may.
	n := 0
	for _, ct := range fake.Contacts() {
		if ct.Email == "same@example.com" {
			n++
		}
	}
	if n != 16 {
		t.Errorf("%d contacts with the same e-mail, want 16", n)
	}
	if got := fake.Calls("POST /api/teams"); got != 16 {
		t.Errorf("POST /api/teams calls = %d", got)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
