package onlyoffice

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/contactsync/contactsync/internal/apiclient"
	f "github.com/contactsync/contactsync/internal/onlyoffice/onlyofficefake"
)

var ctx = context.Background()

func TestNewValidatesConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string // substring of the error; "" for success
	}{
		{"credentials", Config{BaseURL: "https://portal.example.com", UserName: "a@b.c", Password: "pw"}, ""},
		{"token", Config{BaseURL: "https://portal.example.com/sub/", Token: "abc"}, ""},
		{"no credentials", Config{BaseURL: "https://portal.example.com"}, "are required"},
		{"user without password", Config{BaseURL: "https://portal.example.com", UserName: "a"}, "are required"},
		{"both", Config{BaseURL: "https://portal.example.com", UserName: "a", Password: "s3cr3t-Pw", Token: "t"}, "not both"},
		{"relative URL", Config{BaseURL: "portal.example.com", Token: "t"}, "absolute"},
		{"URL with credentials", Config{BaseURL: "https://u:p@portal.example.com", Token: "t"}, "absolute"},
		{"API path", Config{BaseURL: "https://portal.example.com/api/2.0", Token: "t"}, "portal root"},
		{"token with space", Config{BaseURL: "https://portal.example.com", Token: "a b"}, "whitespace"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New error = %v, want containing %q", err, tt.want)
			}
			if tt.cfg.Password != "" && strings.Contains(err.Error(), tt.cfg.Password) {
				t.Fatalf("error contains the password: %v", err)
			}
		})
	}
}

func TestSelfAndUserByEmail(t *testing.T) {
	e := newEnv(t)
	c := e.admin(t)
	self, err := c.Self(ctx)
	if err != nil {
		t.Fatalf("Self: %v", err)
	}
	wantAdmin := &User{ID: f.DemoAdminID, UserName: "administrator", FirstName: "Service", LastName: "Account",
		Email: f.DemoAdminEmail, DisplayName: "Service Account", Status: 1, ActivationStatus: 1, IsAdmin: true}
	if d := cmp.Diff(wantAdmin, self); d != "" {
		t.Errorf("Self (-want +got):\n%s", d)
	}

	tests := []struct {
		email      string
		wantID     string
		wantActive bool
		visitor    bool
		notFound   bool
	}{
		{"alice@demo.example.com", f.DemoAliceID, true, false, false},
		{"  ALICE@Demo.Example.COM ", f.DemoAliceID, true, false, false},
		{f.DemoTerminatedEmail, f.DemoTerminatedID, false, false, false},
		{f.DemoVisitorEmail, f.DemoVisitorID, true, true, false},
		{"nobody@demo.example.com", "", false, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.email, func(t *testing.T) {
			u, err := c.UserByEmail(ctx, tt.email)
			if tt.notFound {
				if !IsNotFound(err) || IsRetryable(err) {
					t.Fatalf("err = %v, want not found, not retryable", err)
				}
				if !strings.HasPrefix(err.Error(), "cannot get user by email: User not found (HTTP 404)") {
					t.Errorf("error string = %q", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("UserByEmail: %v", err)
			}
			if u.ID != tt.wantID || u.Active() != tt.wantActive || u.IsVisitor != tt.visitor {
				t.Errorf("got id=%s active=%v visitor=%v, want %s %v %v", u.ID, u.Active(), u.IsVisitor, tt.wantID, tt.wantActive, tt.visitor)
			}
		})
	}
	if _, err := c.UserByEmail(ctx, "not-an-email"); err == nil || IsRetryable(err) {
		t.Errorf("UserByEmail(not-an-email) = %v, want a non-retryable error", err)
	}
}

func TestGetContact(t *testing.T) {
	e := newEnv(t)
	c := e.admin(t)
	tests := []struct {
		id   int64
		want *Contact
	}{
		{f.DemoContactAda, &Contact{ID: f.DemoContactAda, DisplayName: "Ada Lovelace", ShareType: 0, IsPrivate: true, CanEdit: true,
			AccessList: []Manager{{f.DemoAliceID, "Alice Andersson"}, {f.DemoBobID, "Bob Berg"}}}},
		{f.DemoContactGrace, &Contact{ID: f.DemoContactGrace, DisplayName: "Grace Hopper", ShareType: 1, IsShared: true, CanEdit: true}},
		{f.DemoContactAlan, &Contact{ID: f.DemoContactAlan, DisplayName: "Alan Turing", ShareType: 0, IsPrivate: true, CanEdit: true, AccessList: []Manager{}}},
		// Shared with an ACL: the managers are invisible.
		{f.DemoContactAcme, &Contact{ID: f.DemoContactAcme, DisplayName: "Acme AB", IsCompany: true, ShareType: 1, IsShared: true, CanEdit: true}},
		{f.DemoContactInitech, &Contact{ID: f.DemoContactInitech, DisplayName: "Initech", IsCompany: true, ShareType: 2, IsShared: true, CanEdit: true}},
		// An unknown GUID reads back as the LostUser.
		{f.DemoContactLinus, &Contact{ID: f.DemoContactLinus, DisplayName: "Linus Torvalds", ShareType: 0, IsPrivate: true, CanEdit: true,
			AccessList: []Manager{{f.DemoDaveID, "Dave Dahl"}, {LostUserID, "Unknown Unknown"}}}},
		// A terminated user still resolves.
		{f.DemoContactMargaret, &Contact{ID: f.DemoContactMargaret, DisplayName: "Margaret Hamilton", ShareType: 0, IsPrivate: true, CanEdit: true,
			AccessList: []Manager{{f.DemoTerminatedID, "Frank Fors"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.want.DisplayName, func(t *testing.T) {
			got, err := c.GetContact(ctx, tt.id)
			if err != nil {
				t.Fatalf("GetContact: %v", err)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("GetContact (-want +got):\n%s", d)
			}
		})
	}
	_, err := c.GetContact(ctx, 999999)
	if !IsNotFound(err) || IsRetryable(err) {
		t.Errorf("GetContact(missing) = %v, want not found", err)
	}
	if _, err := c.GetContact(ctx, 0); err == nil || asError(err).Kind != KindInvalidArgument {
		t.Errorf("GetContact(0) = %v, want invalid argument", err)
	}
}

func TestGetContactAccess(t *testing.T) {
	e := newEnv(t)
	c := e.admin(t)
	tests := []struct {
		id   int64
		want []Manager
	}{
		{f.DemoContactAda, []Manager{{f.DemoAliceID, "Alice Andersson"}, {f.DemoBobID, "Bob Berg"}}},
		{f.DemoContactAlan, []Manager{}},
		{f.DemoContactAcme, []Manager{}}, // shared: empty even though the ACL holds Carol
		{f.DemoContactLinus, []Manager{{f.DemoDaveID, "Dave Dahl"}, {LostUserID, "Unknown Unknown"}}},
	}
	for _, tt := range tests {
		got, err := c.GetContactAccess(ctx, tt.id)
		if err != nil {
			t.Fatalf("GetContactAccess(%d): %v", tt.id, err)
		}
		if got == nil {
			t.Errorf("GetContactAccess(%d) returned nil", tt.id)
		}
		if d := cmp.Diff(tt.want, got); d != "" {
			t.Errorf("GetContactAccess(%d) (-want +got):\n%s", tt.id, d)
		}
	}
	if _, err := c.GetContactAccess(ctx, 424242); !IsNotFound(err) {
		t.Errorf("missing contact: err = %v, want not found", err)
	}
	// A non-admin who cannot read: GET contact says 404, GET access says 403.
	bob := e.client(t, "bob@demo.example.com", f.DemoManagerPassword)
	if _, err := bob.GetContactAccess(ctx, f.DemoContactAlan); !IsForbidden(err) || IsNotFound(err) {
		t.Errorf("bob GetContactAccess(Alan) = %v, want forbidden", err)
	}
	if _, err := bob.GetContact(ctx, f.DemoContactAlan); !IsNotFound(err) {
		t.Errorf("bob GetContact(Alan) = %v, want not found", err)
	}
	// Visitors have no CRM access at all.
	guest := e.client(t, f.DemoVisitorEmail, f.DemoManagerPassword)
	if _, err := guest.GetContact(ctx, f.DemoContactGrace); !IsForbidden(err) {
		t.Errorf("visitor GetContact = %v, want forbidden", err)
	}
}

func TestSetContactAccessCombinations(t *testing.T) {
	e := newEnv(t)
	c := e.admin(t)
	id := f.DemoContactGrace
	tests := []struct {
		name      string
		shared    bool
		managers  []string
		wantShare int
		wantACL   []string
		wantList  []Manager
	}{
		{"private with managers", false, []string{strings.ToUpper(f.DemoAliceID), f.DemoBobID, f.DemoBobID}, 0,
			[]string{f.DemoAliceID, f.DemoBobID}, []Manager{{f.DemoAliceID, "Alice Andersson"}, {f.DemoBobID, "Bob Berg"}}},
		{"shared with managers", true, []string{f.DemoCarolID}, 1, []string{f.DemoCarolID}, nil},
		{"shared without managers", true, nil, 1, []string{}, nil},
		{"private without managers", false, []string{}, 0, []string{}, []Manager{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := c.SetContactAccess(ctx, id, tt.shared, tt.managers); err != nil {
				t.Fatalf("SetContactAccess: %v", err)
			}
			snap, _ := e.fake.Contact(id)
			if snap.ShareType != tt.wantShare || !cmp.Equal(snap.ACL, tt.wantACL, cmpopts.EquateEmpty()) {
				t.Errorf("stored = share %d ACL %v, want %d %v", snap.ShareType, snap.ACL, tt.wantShare, tt.wantACL)
			}
			got, err := c.GetContact(ctx, id)
			if err != nil {
				t.Fatalf("GetContact: %v", err)
			}
			if got.ShareType != tt.wantShare || got.IsPrivate == tt.shared || got.IsShared != tt.shared {
				t.Errorf("read back share=%d private=%v shared=%v", got.ShareType, got.IsPrivate, got.IsShared)
			}
			if d := cmp.Diff(tt.wantList, got.AccessList); d != "" {
				t.Errorf("AccessList (-want +got):\n%s", d)
			}
		})
	}
	// Read-only (2) becomes read/write (1) with isShared:true.
	if err := c.SetContactAccess(ctx, f.DemoContactInitech, true, nil); err != nil {
		t.Fatal(err)
	}
	if snap, _ := e.fake.Contact(f.DemoContactInitech); snap.ShareType != 1 {
		t.Errorf("Initech share type = %d, want 1", snap.ShareType)
	}
	// Client-side validation: nothing is sent for a malformed GUID.
	writes := e.fake.Writes()
	err := c.SetContactAccess(ctx, id, false, []string{"not-a-guid"})
	if asError(err) == nil || asError(err).Kind != KindInvalidArgument || IsRetryable(err) {
		t.Errorf("malformed GUID: err = %v", err)
	}
	if e.fake.Writes() != writes {
		t.Errorf("a request was sent for a malformed GUID")
	}
	if err := c.SetContactAccess(ctx, 777777, true, nil); !IsNotFound(err) {
		t.Errorf("missing contact: err = %v, want not found", err)
	}
}

func TestSetContactAccessUnknownGUIDReadsBackAsLostUser(t *testing.T) {
	e := newEnv(t)
	c := e.admin(t)
	unknown := "01234567-89ab-4def-8123-456789abcdef"
	if err := c.SetContactAccess(ctx, f.DemoContactAlan, false, []string{unknown, f.DemoAliceID}); err != nil {
		t.Fatal(err)
	}
	snap, _ := e.fake.Contact(f.DemoContactAlan)
	if !SameManagers(snap.ACL, []string{unknown, f.DemoAliceID}) {
		t.Errorf("stored ACL = %v, want the GUIDs as sent", snap.ACL)
	}
	got, err := c.GetContact(ctx, f.DemoContactAlan)
	if err != nil {
		t.Fatal(err)
	}
	want := []Manager{{LostUserID, "Unknown Unknown"}, {f.DemoAliceID, "Alice Andersson"}}
	if d := cmp.Diff(want, got.AccessList); d != "" {
		t.Errorf("AccessList (-want +got):\n%s", d)
	}
	if SameManagers(got.ManagerIDs(), []string{unknown, f.DemoAliceID}) {
		t.Errorf("an unknown GUID must not round-trip")
	}
}

func TestNonAdminEditRules(t *testing.T) {
	e := newEnv(t)
	bob := e.client(t, "bob@demo.example.com", f.DemoManagerPassword)
	eve := e.client(t, "eve@demo.example.com", f.DemoManagerPassword) // CRM admin, not portal admin
	tests := []struct {
		name    string
		c       *Client
		id      int64
		allowed bool
	}{
		{"bob in ACL of private Ada", bob, f.DemoContactAda, true},
		{"bob on read/write shared Grace", bob, f.DemoContactGrace, true},
		{"bob on read-only shared Initech", bob, f.DemoContactInitech, false},
		{"bob on private Alan without managers", bob, f.DemoContactAlan, false},
		{"bob on Acme shared read/write with ACL", bob, f.DemoContactAcme, true},
		{"CRM admin eve on private Alan", eve, f.DemoContactAlan, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, _ := e.fake.Contact(tt.id)
			err := tt.c.SetContactAccess(ctx, tt.id, false, []string{f.DemoBobID})
			if tt.allowed {
				if err != nil {
					t.Fatalf("SetContactAccess: %v", err)
				}
				return
			}
			if !IsForbidden(err) || IsRetryable(err) || IsAuth(err) {
				t.Fatalf("err = %v, want forbidden", err)
			}
			if after, _ := e.fake.Contact(tt.id); !cmp.Equal(before, after) {
				t.Errorf("contact changed on a refused edit: %+v -> %+v", before, after)
			}
		})
	}
	// CanEdit as read by bob.
	got, err := bob.GetContact(ctx, f.DemoContactInitech)
	if err != nil || got.CanEdit {
		t.Errorf("bob GetContact(Initech) = %+v, %v; want readable, not editable", got, err)
	}
	// A non-admin can lock himself out.
	if err := bob.SetContactAccess(ctx, f.DemoContactAda, false, []string{f.DemoAliceID}); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.GetContact(ctx, f.DemoContactAda); !IsNotFound(err) {
		t.Errorf("after removing himself bob reads Ada: %v", err)
	}
}

func TestSetContactsAccess(t *testing.T) {
	e := newEnv(t)
	c := e.admin(t)
	ids := []int64{f.DemoContactGrace, f.DemoContactAlan, f.DemoContactAcme}
	if err := c.SetContactsAccess(ctx, ids, false, []string{f.DemoEveID}); err != nil {
		t.Fatalf("SetContactsAccess: %v", err)
	}
	for _, id := range ids {
		snap, _ := e.fake.Contact(id)
		if snap.ShareType != 0 || !cmp.Equal(snap.ACL, []string{f.DemoEveID}) {
			t.Errorf("contact %d = %+v", id, snap)
		}
	}
	if got := e.fake.Calls("PUT", f.RouteContactsAccess); got != 1 {
		t.Errorf("bulk calls = %d, want 1", got)
	}
	if err := c.SetContactsAccess(ctx, nil, true, nil); err != nil {
		t.Errorf("empty batch: %v", err)
	}
	if got := e.fake.Calls("PUT", f.RouteContactsAccess); got != 1 {
		t.Errorf("an empty batch sent a request")
	}
}

func TestSetContactsAccessAbortsAtFirstFailure(t *testing.T) {
	tests := []struct {
		name      string
		user, pw  string
		ids       []int64
		wantIndex int
		check     func(error) bool
	}{
		{"missing contact", f.DemoAdminEmail, f.DemoAdminPassword,
			[]int64{f.DemoContactGrace, f.DemoContactAda, 999999, f.DemoContactAcme, 888888}, 2, IsNotFound},
		{"no edit right", "bob@demo.example.com", f.DemoManagerPassword,
			[]int64{f.DemoContactGrace, f.DemoContactInitech, f.DemoContactAcme}, 1, IsForbidden},
		{"missing first", f.DemoAdminEmail, f.DemoAdminPassword,
			[]int64{999999, f.DemoContactGrace}, 0, IsNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			c := e.client(t, tt.user, tt.pw)
			before := map[int64]f.Contact{}
			for _, id := range tt.ids {
				before[id], _ = e.fake.Contact(id)
			}
			err := c.SetContactsAccess(ctx, tt.ids, true, []string{f.DemoBobID})
			var be *BatchError
			if !errors.As(err, &be) {
				t.Fatalf("err = %v (%T), want *BatchError", err, err)
			}
			if !tt.check(err) {
				t.Errorf("err = %v does not unwrap to the expected kind", err)
			}
			if be.Index != tt.wantIndex || be.FailedID() != tt.ids[tt.wantIndex] {
				t.Fatalf("Index = %d FailedID = %d, want %d %d", be.Index, be.FailedID(), tt.wantIndex, tt.ids[tt.wantIndex])
			}
			if d := cmp.Diff(tt.ids[:tt.wantIndex], be.Changed(), cmp.Comparer(func(a, b []int64) bool { return fmt.Sprint(a) == fmt.Sprint(b) })); d != "" {
				t.Errorf("Changed (-want +got):\n%s", d)
			}
			if !strings.Contains(err.Error(), fmt.Sprintf("failed at contact %d", tt.ids[tt.wantIndex])) {
				t.Errorf("error string = %q", err)
			}
			// The portal really changed the contacts before the failing one and left the rest.
			for i, id := range tt.ids {
				snap, ok := e.fake.Contact(id)
				if !ok {
					continue
				}
				changed := snap.ShareType == 1 && cmp.Equal(snap.ACL, []string{f.DemoBobID})
				wasAlready := before[id].ShareType == 1 && cmp.Equal(before[id].ACL, []string{f.DemoBobID})
				if i < tt.wantIndex && !changed {
					t.Errorf("contact %d before the failure was not changed: %+v", id, snap)
				}
				if i > tt.wantIndex && !cmp.Equal(snap, before[id]) && !wasAlready {
					t.Errorf("contact %d after the failure was changed: %+v", id, snap)
				}
			}
		})
	}
}

func TestSetContactsAccessUnknownFailingID(t *testing.T) {
	// The failure is not about one contact (a 500): the failing id cannot be told.
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(500)
		_, _ = w.Write([]byte(`{"status":1,"statusCode":500,"error":{"message":"Database is down","hresult":-2146233088}}`))
	})
	c, _ := staticClient(t, h)
	err := c.SetContactsAccess(ctx, []int64{1, 2}, true, nil)
	var be *BatchError
	if !errors.As(err, &be) || be.Index != -1 || be.FailedID() != 0 || be.Changed() != nil || !IsRetryable(err) {
		t.Fatalf("err = %v, want a retryable *BatchError with unknown index", err)
	}
}

func TestTokenIsCachedAndRenewedBeforeExpiry(t *testing.T) {
	e := newEnv(t, f.WithTokenLifetime(time.Hour))
	c := e.admin(t)
	for i := 0; i < 3; i++ {
		if _, err := c.Self(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if got := e.fake.LoginAttempts(); got != 1 {
		t.Fatalf("logins = %d, want 1 (token cached)", got)
	}
	e.clock.Advance(54 * time.Minute) // renewal margin is min(5 min, 10 % of 1 h) = 5 min
	if _, err := c.Self(ctx); err != nil {
		t.Fatal(err)
	}
	if got := e.fake.LoginAttempts(); got != 1 {
		t.Fatalf("logins = %d at 54 min, want 1", got)
	}
	e.clock.Advance(2 * time.Minute)
	if _, err := c.Self(ctx); err != nil {
		t.Fatal(err)
	}
	if got := e.fake.LoginAttempts(); got != 2 {
		t.Fatalf("logins = %d at 56 min, want 2 (renewed before expiry)", got)
	}
	if got := e.fake.Calls("GET", f.RouteSelf); got != 5 {
		t.Errorf("self calls = %d, want 5 (no 401 round trips)", got)
	}
	// Short lifetime: 10 % margin.
	e.fake.SetTokenLifetime(10 * time.Minute)
	e.clock.Advance(2 * time.Hour)
	if _, err := c.Self(ctx); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(8*time.Minute + 30*time.Second)
	if _, err := c.Self(ctx); err != nil {
		t.Fatal(err)
	}
	if got := e.fake.LoginAttempts(); got != 3 {
		t.Errorf("logins = %d, want 3", got)
	}
	e.clock.Advance(time.Minute) // 9.5 min of 10: inside the 1 min margin
	if _, err := c.Self(ctx); err != nil {
		t.Fatal(err)
	}
	if got := e.fake.LoginAttempts(); got != 4 {
		t.Errorf("logins = %d, want 4", got)
	}
}

func TestUnauthorizedReloginExactlyOnce(t *testing.T) {
	e := newEnv(t)
	c := e.admin(t)
	if _, err := c.Self(ctx); err != nil {
		t.Fatal(err)
	}
	e.fake.InvalidateTokens()
	if _, err := c.GetContact(ctx, f.DemoContactAda); err != nil {
		t.Fatalf("GetContact after invalidation: %v", err)
	}
	if got := e.fake.LoginAttempts(); got != 2 {
		t.Errorf("logins = %d, want 2", got)
	}
	if got := e.fake.Calls("GET", f.RouteContact); got != 2 {
		t.Errorf("contact calls = %d, want 2 (401 + retry)", got)
	}

	// Concurrent callers hitting 401 with the same token share one new login.
	e.fake.InvalidateTokens()
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.GetContact(ctx, f.DemoContactGrace)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent GetContact: %v", err)
		}
	}
	if got := e.fake.LoginAttempts(); got != 3 {
		t.Errorf("logins = %d after concurrent 401s, want 3", got)
	}
}

func TestUnauthorizedTwiceIsAuthError(t *testing.T) {
	e := newEnv(t)
	// Every API call but the login is refused.
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == f.RouteAuthentication {
			e.fake.ServeHTTP(w, r)
			return
		}
		w.Header().Set("WWW-Authenticate", `Basic Realm="x"`)
		w.WriteHeader(401)
		_, _ = w.Write([]byte("Unauthorized"))
	})
	c, _ := staticClient(t, h, func(cfg *Config) {
		cfg.Token, cfg.UserName, cfg.Password = "", f.DemoAdminEmail, f.DemoAdminPassword
		cfg.Now = e.clock.Now
	})
	_, err := c.Self(ctx)
	if !IsAuth(err) || IsRetryable(err) {
		t.Fatalf("err = %v, want auth error", err)
	}
	if asError(err).HTTPStatus != 401 {
		t.Errorf("status = %d", asError(err).HTTPStatus)
	}
	if got := e.fake.LoginAttempts(); got != 2 {
		t.Errorf("logins = %d, want exactly 2 (first + one re-login)", got)
	}
}

func TestBadCredentialsAndCooldown(t *testing.T) {
	e := newEnv(t)
	c := e.client(t, f.DemoAdminEmail, "wrong-password-XYZ")
	_, err := c.Self(ctx)
	if !IsAuth(err) || IsRetryable(err) || IsLockout(err) {
		t.Fatalf("err = %v, want auth error", err)
	}
	if ae := asError(err); ae.HTTPStatus != 500 || ae.Message != "User authentication failed" {
		t.Errorf("error = %+v", ae)
	}
	want := "cannot get current user: cannot log in: User authentication failed (HTTP 500)"
	if err.Error() != want {
		t.Errorf("error string = %q, want %q", err, want)
	}
	// Within the cool-down: no new login, the same failure with the time left.
	e.clock.Advance(20 * time.Second)
	_, err = c.GetContact(ctx, 1)
	var ce *LoginCooldownError
	if !errors.As(err, &ce) || !IsAuth(err) || RetryAfter(err) != 40*time.Second {
		t.Fatalf("err = %v (retry after %v), want a cool-down error with 40s left", err, RetryAfter(err))
	}
	if got := e.fake.LoginAttempts(); got != 1 {
		t.Fatalf("logins = %d during the cool-down, want 1", got)
	}
	if want := "cannot get contact 1: cannot log in: User authentication failed (HTTP 500) (not trying to log in again for 40s)"; err.Error() != want {
		t.Errorf("error string = %q, want %q", err, want)
	}
	// Hammering for ten minutes never reaches the portal's lockout (more than 5 in 60 s).
	for i := 0; i < 60; i++ {
		e.clock.Advance(10 * time.Second)
		_, err = c.Self(ctx)
		if IsLockout(err) {
			t.Fatalf("locked out after %d calls", i)
		}
		if !IsAuth(err) {
			t.Fatalf("err = %v", err)
		}
	}
	if got := e.fake.LoginAttempts(); got > 11 {
		t.Errorf("logins = %d in 10 min, want at most one a minute", got)
	}
}

func TestLockout(t *testing.T) {
	e := newEnv(t)
	// Someone else hammers the login from this IP.
	for i := 0; i < 6; i++ {
		resp, err := http.Post(e.srv.URL+f.RouteAuthentication, "application/json",
			strings.NewReader(`{"userName":"`+f.DemoAdminEmail+`","password":"nope"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	c := e.admin(t)
	_, err := c.Self(ctx)
	if !IsLockout(err) || !IsAuth(err) || IsRetryable(err) || RetryAfter(err) != 60*time.Second {
		t.Fatalf("err = %v (retry after %v), want lockout with 60s", err, RetryAfter(err))
	}
	if !strings.Contains(err.Error(), "Login Fail. Too many attempts") {
		t.Errorf("error string = %q", err)
	}
	e.clock.Advance(61 * time.Second)
	if _, err := c.Self(ctx); err != nil {
		t.Errorf("after the lock and cool-down: %v", err)
	}
}

func TestTwoFactorIsConfigError(t *testing.T) {
	e := newEnv(t)
	c := e.client(t, f.DemoTwoFactorEmail, f.DemoManagerPassword)
	_, err := c.Self(ctx)
	if !IsConfig(err) || IsAuth(err) || IsRetryable(err) {
		t.Fatalf("err = %v, want config error", err)
	}
	if !strings.Contains(err.Error(), "two-factor") {
		t.Errorf("error string = %q", err)
	}
}

func TestStaticToken(t *testing.T) {
	e := newEnv(t)
	tok, err := e.fake.IssueToken(f.DemoAdminEmail)
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(Config{BaseURL: e.srv.URL, Token: tok})
	if err != nil {
		t.Fatal(err)
	}
	if u, err := c.Self(ctx); err != nil || u.ID != f.DemoAdminID {
		t.Fatalf("Self = %+v, %v", u, err)
	}
	e.fake.InvalidateTokens()
	_, err = c.Self(ctx)
	if !IsAuth(err) || IsRetryable(err) {
		t.Fatalf("err = %v, want auth error", err)
	}
	if strings.Contains(err.Error(), tok) {
		t.Errorf("error contains the token")
	}
	if got := e.fake.LoginAttempts(); got != 0 {
		t.Errorf("logins = %d with a static token, want 0", got)
	}
	if got := e.fake.Calls("GET", f.RouteSelf); got != 2 {
		t.Errorf("self calls = %d, want 2 (no retry)", got)
	}
}

func rateLimitedTotal(t *testing.T) float64 {
	t.Helper()
	mfs, err := ctrlRegistryGather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "contactsync_api_rate_limited_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "provider" && l.GetValue() == Provider {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

func TestRateLimit503PausesLimiter(t *testing.T) {
	e := newEnv(t, f.WithRateLimit(3, 10*time.Second))
	c := e.admin(t)
	before := rateLimitedTotal(t)
	var err error
	for i := 0; i < 3 && err == nil; i++ { // login + 2 calls fill the window
		_, err = c.Self(ctx)
	}
	if err == nil {
		_, err = c.Self(ctx)
	}
	if !IsRateLimited(err) || !IsRetryable(err) {
		t.Fatalf("err = %v, want rate limited", err)
	}
	if got := RetryAfter(err); got != 10*time.Second {
		t.Errorf("RetryAfter = %v, want 10s", got)
	}
	if ae := asError(err); ae.HTTPStatus != 503 {
		t.Errorf("status = %d", ae.HTTPStatus)
	}
	paused := c.Limiter().Paused()
	if paused.IsZero() || time.Until(paused) < 8*time.Second {
		t.Errorf("limiter paused until %v, want ~10s from now", paused)
	}
	if got := rateLimitedTotal(t) - before; got != 1 {
		t.Errorf("rate-limited counter grew by %v, want 1", got)
	}
	// The paused limiter sends nothing: the next call is turned back at once, saying until when
	// (it never holds its caller through the pause).
	short, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	n := e.fake.Calls("GET", f.RouteSelf)
	if _, err := c.Self(short); apiclient.AsWait(err) == nil || !errors.Is(err, apiclient.ErrNotSent) {
		t.Errorf("call during the pause = %v, want a not-sent *apiclient.WaitError", err)
	}
	if e.fake.Calls("GET", f.RouteSelf) != n {
		t.Errorf("a call was sent while the limiter was paused")
	}
}

func TestSeedExampleResponse(t *testing.T) {
	body, err := os.ReadFile("testdata/put_contact_access_response.json")
	if err != nil {
		t.Fatal(err)
	}
	env, err := decodeEnvelope(body)
	if err != nil {
		t.Fatalf("decodeEnvelope: %v", err)
	}
	got, err := decodeContact(env.Response)
	if err != nil {
		t.Fatalf("decodeContact: %v", err)
	}
	want := &Contact{ID: 1234, DisplayName: "Tadjeddine Bachir", ShareType: 0, IsPrivate: true, CanEdit: true,
		AccessList: []Manager{{ID: "00000000-0000-0000-0000-000000000000", DisplayName: "Mike Zanyatski"}}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("seed contact (-want +got):\n%s", d)
	}
	// And through the client: the PUT succeeds on this answer.
	var gotBody string
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := make([]byte, 1024)
		n, _ := r.Body.Read(b)
		gotBody = string(b[:n])
		if r.Method != http.MethodPut || r.URL.Path != "/api/2.0/crm/contact/1234/access" || r.Header.Get("Authorization") != "STATIC-TOKEN-0123456789" {
			w.WriteHeader(400)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
	c, _ := staticClient(t, h)
	if err := c.SetContactAccess(ctx, 1234, true, []string{"9924256A-739C-462b-AF15-E652A3B1B6EB"}); err != nil {
		t.Fatalf("SetContactAccess: %v", err)
	}
	if want := `{"isShared":true,"managerList":["9924256a-739c-462b-af15-e652a3b1b6eb"]}`; gotBody != want {
		t.Errorf("request body = %s, want %s", gotBody, want)
	}
	// Clearing sends both fields, an empty array and not null.
	if err := c.SetContactAccess(ctx, 1234, false, nil); err != nil {
		t.Fatal(err)
	}
	if want := `{"isShared":false,"managerList":[]}`; gotBody != want {
		t.Errorf("request body = %s, want %s", gotBody, want)
	}
}

func TestRedirectIsNotFollowed(t *testing.T) {
	var hits int
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		http.Redirect(w, r, "/Auth.aspx", http.StatusFound)
	})
	c, _ := staticClient(t, h)
	_, err := c.Self(ctx)
	if ae := asError(err); ae == nil || ae.HTTPStatus != 302 || hits != 1 {
		t.Errorf("err = %v, hits = %d; want a 302 error and one request", err, hits)
	}
}

func TestFaultsAreTyped(t *testing.T) {
	tests := []struct {
		name   string
		faults f.Faults
		check  func(t *testing.T, err error)
	}{
		{"dropped connection", f.Faults{DropRate: 1, Paths: []string{"/api/2.0/crm/"}}, func(t *testing.T, err error) {
			var ne *apiclient.NetError
			if !errors.As(err, &ne) || !IsRetryable(err) {
				t.Errorf("err = %v, want retryable NetError", err)
			}
		}},
		{"truncated body", f.Faults{TruncateRate: 1, Paths: []string{"/api/2.0/crm/"}}, func(t *testing.T, err error) {
			var ne *apiclient.NetError
			if !errors.As(err, &ne) || !IsRetryable(err) {
				t.Errorf("err = %v, want retryable NetError", err)
			}
		}},
		{"malformed body", f.Faults{MalformedRate: 1, Paths: []string{"/api/2.0/crm/"}}, func(t *testing.T, err error) {
			if ae := asError(err); ae == nil || ae.Kind != KindDecode || ae.HTTPStatus != 200 || IsRetryable(err) {
				t.Errorf("err = %v, want decode error", err)
			}
		}},
		{"HTML 502", f.Faults{HTMLRate: 1, Paths: []string{"/api/2.0/crm/"}}, func(t *testing.T, err error) {
			if ae := asError(err); ae == nil || ae.HTTPStatus != 502 || ae.Message != "HTML page: 502 Bad Gateway" || !IsRetryable(err) {
				t.Errorf("err = %v, want retryable 502", err)
			}
		}},
		{"injected 500", f.Faults{ErrorRates: map[int]float64{500: 1}, Paths: []string{"/api/2.0/crm/"}}, func(t *testing.T, err error) {
			if ae := asError(err); ae == nil || ae.HTTPStatus != 500 || IsAuth(err) || !IsRetryable(err) {
				t.Errorf("err = %v, want retryable 500", err)
			}
		}},
		{"injected 402", f.Faults{ErrorRates: map[int]float64{402: 1}, Paths: []string{"/api/2.0/crm/"}}, func(t *testing.T, err error) {
			if ae := asError(err); ae == nil || ae.HTTPStatus != 402 || IsRetryable(err) {
				t.Errorf("err = %v, want non-retryable 402", err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			c := e.admin(t)
			e.fake.SetFaults(tt.faults)
			_, err := c.GetContact(ctx, f.DemoContactAda)
			tt.check(t, err)
			e.fake.SetFaults(f.Faults{})
			if _, err := c.GetContact(ctx, f.DemoContactAda); err != nil {
				t.Errorf("after clearing the faults: %v", err)
			}
		})
	}
}

func TestListUsersPagesThroughEveryUserOfAStatus(t *testing.T) {
	e := newEnv(t)
	for i := 0; i < 230; i++ {
		e.fake.AddUser(f.User{UserName: fmt.Sprintf("user%03d", i), Email: fmt.Sprintf("user%03d@demo.example.com", i), FirstName: "U", LastName: fmt.Sprint(i)})
	}
	c := e.admin(t)
	active, err := c.ListUsers(context.Background(), UserStatusActive)
	if err != nil {
		t.Fatal(err)
	}
	terminated, err := c.ListUsers(context.Background(), UserStatusTerminated)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	visitors := 0
	for _, u := range active {
		if seen[u.ID] || u.Status != UserStatusActive {
			t.Fatalf("user %s twice or not active", u.Email)
		}
		seen[u.ID] = true
		if u.IsVisitor {
			visitors++
		}
	}
	// The demo portal's 8 active users (one a visitor) and the 230 added; one terminated user.
	if len(active) != 238 || visitors != 1 || len(terminated) != 1 || terminated[0].Email != f.DemoTerminatedEmail {
		t.Errorf("active %d (visitors %d), terminated %d", len(active), visitors, len(terminated))
	}
	if got := e.fake.Calls(http.MethodGet, f.RouteUsersByStatus); got != 4 {
		t.Errorf("%d list calls, want 3 pages of active users and 1 of terminated", got)
	}
	if _, err := c.ListUsers(context.Background(), 4); err == nil {
		t.Error("status 4 accepted")
	}
}
