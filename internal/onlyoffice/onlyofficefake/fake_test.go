package onlyofficefake

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

type harness struct {
	t     *testing.T
	s     *Server
	srv   *httptest.Server
	clock *clock
}

func newHarness(t *testing.T, opts ...Option) *harness {
	clk := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	s := NewDemo(append([]Option{WithClock(clk.Now)}, opts...)...)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return &harness{t: t, s: s, srv: srv, clock: clk}
}

type reply struct {
	status int
	header http.Header
	body   string
	env    map[string]any
}

func (h *harness) do(method, path, token, ctype, body string) reply {
	h.t.Helper()
	req, err := http.NewRequest(method, h.srv.URL+path, strings.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := reply{status: resp.StatusCode, header: resp.Header, body: string(b)}
	_ = json.Unmarshal(b, &r.env)
	return r
}

func (h *harness) login(user, pw string) reply {
	return h.do("POST", RouteAuthentication, "", "application/json", fmt.Sprintf(`{"userName":%q,"password":%q}`, user, pw))
}

func (h *harness) token(user, pw string) string {
	h.t.Helper()
	r := h.login(user, pw)
	if r.status != 201 {
		h.t.Fatalf("login %s: %d %s", user, r.status, r.body)
	}
	return r.env["response"].(map[string]any)["token"].(string)
}

func (h *harness) admin() string { return h.token(DemoAdminEmail, DemoAdminPassword) }

func resp(r reply) map[string]any {
	m, _ := r.env["response"].(map[string]any)
	return m
}

func errMsg(r reply) string {
	e, _ := r.env["error"].(map[string]any)
	s, _ := e["message"].(string)
	return s
}

func TestLoginAnswers(t *testing.T) {
	h := newHarness(t, WithTokenLifetime(30*time.Minute))
	r := h.login(DemoAdminEmail, DemoAdminPassword)
	if r.status != 201 || r.env["statusCode"].(float64) != 201 || r.env["status"].(float64) != 0 {
		t.Fatalf("login: %d %s", r.status, r.body)
	}
	if got := resp(r)["expires"]; got != "2026-03-01T12:30:00.0000000Z" {
		t.Errorf("expires = %v", got)
	}
	if !strings.Contains(r.header.Get("Set-Cookie"), "asc_auth_key=") {
		t.Errorf("no asc_auth_key cookie")
	}
	// User name instead of email, any case.
	if r := h.login("ADMINISTRATOR", DemoAdminPassword); r.status != 201 {
		t.Errorf("login by user name: %d", r.status)
	}
	tests := []struct {
		name, user, pw string
		wantStatus     int
		wantMsg        string
		wantKey        string
	}{
		{"wrong password", "alice@demo.example.com", "nope", 500, "User authentication failed", ""},
		{"unknown user", "nobody@x", "nope", 500, "User authentication failed", ""},
		{"missing password", "bob@demo.example.com", "", 500, "User authentication failed", ""},
		{"terminated", DemoTerminatedEmail, DemoManagerPassword, 500, "User authentication failed", ""},
		{"2FA", DemoTwoFactorEmail, DemoManagerPassword, 201, "", "tfa"},
	}
	for _, tt := range tests {
		r := h.login(tt.user, tt.pw)
		if r.status != tt.wantStatus || errMsg(r) != tt.wantMsg {
			t.Errorf("%s: %d %s", tt.name, r.status, r.body)
		}
		if tt.wantKey != "" {
			if resp(r)[tt.wantKey] != true || resp(r)["token"] != nil {
				t.Errorf("%s: %s", tt.name, r.body)
			}
		}
	}
	// SMS variant.
	h.s.AddUser(User{Email: "sms@demo.example.com", Password: "pw", TwoFactor: "sms"})
	if r := h.login("sms@demo.example.com", "pw"); resp(r)["sms"] != true || resp(r)["token"] != nil {
		t.Errorf("sms login: %s", r.body)
	}
	// Form-encoded login works too.
	r = h.do("POST", RouteAuthentication, "", "application/x-www-form-urlencoded", url.Values{"userName": {DemoAdminEmail}, "password": {DemoAdminPassword}}.Encode())
	if r.status != 201 {
		t.Errorf("form login: %d %s", r.status, r.body)
	}
}

func TestBruteForceLock(t *testing.T) {
	h := newHarness(t)
	for i := 1; i <= 5; i++ {
		if r := h.login("alice@demo.example.com", "bad"); errMsg(r) != "User authentication failed" {
			t.Fatalf("attempt %d: %s", i, r.body)
		}
	}
	// The sixth attempt in 60 s is locked, even with the right password.
	r := h.login("alice@demo.example.com", DemoManagerPassword)
	if r.status != 500 || errMsg(r) != "Login Fail. Too many attempts" {
		t.Fatalf("6th attempt: %d %s", r.status, r.body)
	}
	h.clock.Add(59 * time.Second)
	if r := h.login("alice@demo.example.com", DemoManagerPassword); errMsg(r) != "Login Fail. Too many attempts" {
		t.Errorf("at 59 s: %s", r.body)
	}
	// Other logins are not affected.
	if r := h.login("bob@demo.example.com", DemoManagerPassword); r.status != 201 {
		t.Errorf("bob: %s", r.body)
	}
	h.clock.Add(2 * time.Second)
	if r := h.login("alice@demo.example.com", DemoManagerPassword); r.status != 201 {
		t.Errorf("after the lock: %s", r.body)
	}
	// Failures spread over more than 60 s never lock.
	for i := 0; i < 10; i++ {
		h.clock.Add(13 * time.Second)
		if r := h.login("carol@demo.example.com", "bad"); errMsg(r) != "User authentication failed" {
			t.Fatalf("spread attempt %d: %s", i, r.body)
		}
	}
	// Successful logins do not count.
	for i := 0; i < 8; i++ {
		if r := h.login("dave@demo.example.com", DemoManagerPassword); r.status != 201 {
			t.Fatalf("good login %d: %s", i, r.body)
		}
	}
}

func TestUnauthorized(t *testing.T) {
	h := newHarness(t, WithTokenLifetime(time.Hour))
	tok := h.admin()
	tests := []struct {
		name, auth string
		wantWWW    bool
	}{
		{"no header", "", false},
		{"bad token", "nope", true},
	}
	for _, tt := range tests {
		r := h.do("GET", RouteSelf, tt.auth, "", "")
		if r.status != 401 || r.body != "Unauthorized" || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") {
			t.Errorf("%s: %d %q", tt.name, r.status, r.body)
		}
		if (r.header.Get("WWW-Authenticate") != "") != tt.wantWWW {
			t.Errorf("%s: WWW-Authenticate = %q", tt.name, r.header.Get("WWW-Authenticate"))
		}
	}
	for _, auth := range []string{tok, "Bearer " + tok} {
		if r := h.do("GET", RouteSelf, auth, "", ""); r.status != 200 || resp(r)["id"] != DemoAdminID {
			t.Errorf("auth %q: %d %s", auth[:6], r.status, r.body)
		}
	}
	// Cookie.
	req, _ := http.NewRequest("GET", h.srv.URL+RouteSelf, nil)
	req.AddCookie(&http.Cookie{Name: "asc_auth_key", Value: tok})
	if r, err := http.DefaultClient.Do(req); err != nil || r.StatusCode != 200 {
		t.Errorf("cookie auth: %v %v", r, err)
	}
	// Expiry, invalidation, terminated users.
	h.clock.Add(time.Hour)
	if r := h.do("GET", RouteSelf, tok, "", ""); r.status != 401 {
		t.Errorf("expired token: %d", r.status)
	}
	tok = h.admin()
	h.s.InvalidateTokens()
	if r := h.do("GET", RouteSelf, tok, "", ""); r.status != 401 {
		t.Errorf("invalidated token: %d", r.status)
	}
	bob := h.token("bob@demo.example.com", DemoManagerPassword)
	_ = h.s.SetUserStatus(DemoBobID, 2)
	if r := h.do("GET", RouteSelf, bob, "", ""); r.status != 401 {
		t.Errorf("terminated user's token: %d", r.status)
	}
}

func TestWireFormat(t *testing.T) {
	h := newHarness(t)
	tok := h.admin()
	r := h.do("GET", "/api/2.0/crm/contact/101", tok, "", "")
	if r.status != 200 || r.env["count"].(float64) != 1 || r.env["statusCode"].(float64) != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	for _, key := range []string{`"isPrivate":true`, `"isShared":false`, `"shareType":0`, `"accessList":[{"id":"` + DemoAliceID + `"`, `"displayName":"Ada Lovelace"`, `"canEdit":true`} {
		if !strings.Contains(r.body, key) {
			t.Errorf("body lacks %s: %s", key, r.body)
		}
	}
	// accessList is absent for shared contacts, even with ACL entries.
	for _, id := range []int64{DemoContactGrace, DemoContactAcme, DemoContactInitech} {
		r := h.do("GET", fmt.Sprintf("/api/2.0/crm/contact/%d", id), tok, "", "")
		if _, ok := resp(r)["accessList"]; ok || r.status != 200 {
			t.Errorf("contact %d: accessList present: %s", id, r.body)
		}
	}
	// Private without managers: an empty list.
	if r := h.do("GET", "/api/2.0/crm/contact/103", tok, "", ""); !strings.Contains(r.body, `"accessList":[]`) {
		t.Errorf("Alan: %s", r.body)
	}
	// Suffix .json is the same route; .xml is not implemented.
	if r := h.do("GET", "/api/2.0/crm/contact/101.json", tok, "", ""); r.status != 200 {
		t.Errorf(".json: %d", r.status)
	}
	if r := h.do("GET", "/api/2.0/crm/contact/101.xml", tok, "", ""); r.status != 501 {
		t.Errorf(".xml: %d", r.status)
	}
	// Users by email (case-insensitive), by name, by GUID.
	for _, p := range []string{"/api/2.0/people/email?email=ALICE%40demo.example.com", "/api/2.0/people/alice", "/api/2.0/people/" + strings.ToUpper(DemoAliceID)} {
		r := h.do("GET", p, tok, "", "")
		if r.status != 200 || resp(r)["id"] != DemoAliceID || resp(r)["status"].(float64) != 1 {
			t.Errorf("%s: %d %s", p, r.status, r.body)
		}
	}
	if r := h.do("GET", "/api/2.0/people/email?email=nobody%40x", tok, "", ""); r.status != 404 || errMsg(r) != "User not found" {
		t.Errorf("unknown email: %d %s", r.status, r.body)
	}
}

func TestRouting(t *testing.T) {
	h := newHarness(t)
	tok := h.admin()
	tests := []struct {
		method, path string
		wantStatus   int
		wantHTML     bool
	}{
		{"GET", "/nothing/here", 404, true},
		{"GET", "/api/2.0/crm/contact/abc", 404, true},
		{"GET", "/api/2.0/crm/contact/abc/access", 404, true},
		{"GET", "/api/2.0/unknownmodule/x", 404, true},
		{"GET", "/api/2.0/crm/contact/filter", 501, false},
		{"DELETE", "/api/2.0/crm/contact/101", 501, false},
		{"POST", "/api/2.0/crm/contact/person", 501, false},
		{"GET", "/api/2.0/files/@my", 501, false},
		{"POST", "/api/2.0/authentication/123456", 501, false},
		{"PUT", "/api/2.0/crm/contact/filter/access", 501, false},
		{"GET", "/api/2.0/crm/contact/0", 400, false},
		{"GET", "/api/2.0/crm/contact/99999999999", 400, false},
	}
	for _, tt := range tests {
		r := h.do(tt.method, tt.path, tok, "", "")
		if r.status != tt.wantStatus || strings.HasPrefix(r.header.Get("Content-Type"), "text/html") != tt.wantHTML {
			t.Errorf("%s %s: %d %s %q", tt.method, tt.path, r.status, r.header.Get("Content-Type"), r.body)
		}
		if !tt.wantHTML && r.env["status"] != float64(1) {
			t.Errorf("%s %s: not an error envelope: %s", tt.method, tt.path, r.body)
		}
	}
	if got := h.s.Calls("GET", RouteUnknown); got != 4 {
		t.Errorf("unknown calls = %d", got)
	}
	if got := h.s.Calls("DELETE", RouteNotImplemented); got != 1 {
		t.Errorf("not implemented DELETE calls = %d", got)
	}
}

func TestPutAccessQuirks(t *testing.T) {
	h := newHarness(t)
	tok := h.admin()
	// Private Ada -> shared: the answer still shows the private state, with the fresh ACL.
	r := h.do("PUT", "/api/2.0/crm/contact/101/access", tok, "application/json", `{"isShared":true,"managerList":["`+DemoCarolID+`"]}`)
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	got := resp(r)
	if got["shareType"] != float64(0) || got["isPrivate"] != true || got["isShared"] != false {
		t.Errorf("PUT answer should show the old (private) state: %s", r.body)
	}
	if al, _ := got["accessList"].([]any); len(al) != 1 || al[0].(map[string]any)["id"] != DemoCarolID {
		t.Errorf("PUT answer accessList should be the fresh ACL: %s", r.body)
	}
	if c, _ := h.s.Contact(101); c.ShareType != 1 || !cmp.Equal(c.ACL, []string{DemoCarolID}) {
		t.Errorf("stored: %+v", c)
	}
	// Shared Grace -> private: the answer shows shared and no accessList.
	r = h.do("PUT", "/api/2.0/crm/contact/102/access", tok, "application/json", `{"isShared":false,"managerList":["`+DemoAliceID+`"]}`)
	if got := resp(r); got["shareType"] != float64(1) || got["accessList"] != nil {
		t.Errorf("PUT answer for shared->private: %s", r.body)
	}
	if r := h.do("GET", "/api/2.0/crm/contact/102", tok, "", ""); resp(r)["shareType"] != float64(0) || resp(r)["accessList"] == nil {
		t.Errorf("GET after PUT: %s", r.body)
	}
	// Missing isShared means false (private); missing managerList clears.
	r = h.do("PUT", "/api/2.0/crm/contact/104/access", tok, "application/json", `{}`)
	if c, _ := h.s.Contact(104); r.status != 200 || c.ShareType != 0 || len(c.ACL) != 0 {
		t.Errorf("empty body: %d %+v", r.status, c)
	}
	// Unknown GUIDs are stored and read back as the LostUser; case and duplicates normalised.
	unknown := "01234567-89AB-4DEF-8123-456789ABCDEF"
	r = h.do("PUT", "/api/2.0/crm/contact/103/access", tok, "application/json", `{"isShared":false,"managerList":["`+unknown+`","`+unknown+`"]}`)
	if c, _ := h.s.Contact(103); !cmp.Equal(c.ACL, []string{strings.ToLower(unknown)}) {
		t.Errorf("stored ACL: %v", c.ACL)
	}
	r = h.do("GET", "/api/2.0/crm/contact/103/access", tok, "", "")
	if r.status != 200 || r.env["count"] != float64(1) || !strings.Contains(r.body, `"id":"`+LostUserID+`","displayName":"Unknown Unknown"`) {
		t.Errorf("access read back: %s", r.body)
	}
	// Form-encoded and case-insensitive names work.
	r = h.do("PUT", "/api/2.0/crm/contact/103/access", tok, "application/x-www-form-urlencoded", "ISSHARED=True&managerList[]="+DemoBobID)
	if c, _ := h.s.Contact(103); r.status != 200 || c.ShareType != 1 || !cmp.Equal(c.ACL, []string{DemoBobID}) {
		t.Errorf("form PUT: %d %+v %s", r.status, c, r.body)
	}
	// Bad input: 400 and nothing changes.
	before := h.s.Contacts()
	for _, body := range []string{
		`{"isShared":true,"managerList":["not-a-guid"]}`,
		`{"isShared":"maybe"}`,
		`{"isShared":true,`,
	} {
		if r := h.do("PUT", "/api/2.0/crm/contact/103/access", tok, "application/json", body); r.status != 400 {
			t.Errorf("%s: %d %s", body, r.status, r.body)
		}
	}
	if r := h.do("PUT", "/api/2.0/crm/contact/0/access", tok, "application/json", `{"isShared":true}`); r.status != 400 {
		t.Errorf("id 0: %d", r.status)
	}
	if r := h.do("PUT", "/api/2.0/crm/contact/5555/access", tok, "application/json", `{"isShared":true}`); r.status != 404 || errMsg(r) != "Not found" {
		t.Errorf("missing: %d %s", r.status, r.body)
	}
	if d := cmp.Diff(before, h.s.Contacts(), cmpopts.EquateEmpty()); d != "" {
		t.Errorf("contacts changed by failed PUTs:\n%s", d)
	}
}

func TestNonAdminRules(t *testing.T) {
	h := newHarness(t)
	bob := h.token("bob@demo.example.com", DemoManagerPassword)
	tests := []struct {
		id                      int64
		getStatus, accessStatus int
		putStatus               int
		canEdit                 bool
	}{
		{DemoContactAda, 200, 200, 200, true},      // private, bob in ACL
		{DemoContactGrace, 200, 200, 200, true},    // read/write
		{DemoContactInitech, 200, 200, 403, false}, // read only
		{DemoContactAlan, 404, 403, 403, false},    // private, no managers
		{DemoContactGlobex, 404, 403, 403, false},  // private, not bob
	}
	for _, tt := range tests {
		p := fmt.Sprintf("/api/2.0/crm/contact/%d", tt.id)
		r := h.do("GET", p, bob, "", "")
		if r.status != tt.getStatus || (r.status == 200 && resp(r)["canEdit"] != tt.canEdit) {
			t.Errorf("GET %d: %d %s", tt.id, r.status, r.body)
		}
		if r := h.do("GET", p+"/access", bob, "", ""); r.status != tt.accessStatus {
			t.Errorf("GET access %d: %d", tt.id, r.status)
		}
		before, _ := h.s.Contact(tt.id)
		r = h.do("PUT", p+"/access", bob, "application/json", `{"isShared":false,"managerList":["`+DemoBobID+`"]}`)
		if r.status != tt.putStatus {
			t.Errorf("PUT %d: %d %s", tt.id, r.status, r.body)
		}
		if r.status == 403 {
			if errMsg(r) != "Access Denied" {
				t.Errorf("PUT %d message: %s", tt.id, r.body)
			}
			if after, _ := h.s.Contact(tt.id); !cmp.Equal(before, after) {
				t.Errorf("PUT %d changed a contact it may not edit", tt.id)
			}
		}
	}
	guest := h.token(DemoVisitorEmail, DemoManagerPassword)
	if r := h.do("GET", "/api/2.0/crm/contact/102", guest, "", ""); r.status != 403 {
		t.Errorf("visitor: %d", r.status)
	}
}

func TestBulkAccess(t *testing.T) {
	h := newHarness(t)
	tok := h.admin()
	r := h.do("PUT", RouteContactsAccess, tok, "application/json", `{"contactid":[102,103],"isShared":false,"managerList":["`+DemoDaveID+`"]}`)
	if r.status != 200 || r.env["count"] != float64(2) {
		t.Fatalf("%d %s", r.status, r.body)
	}
	list := r.env["response"].([]any)
	if list[0].(map[string]any)["shareType"] != float64(1) { // stale: Grace was shared
		t.Errorf("bulk answer should show the old state: %s", r.body)
	}
	// Abort at the first failure; earlier ids stay changed, later ones untouched.
	before105, _ := h.s.Contact(105)
	r = h.do("PUT", RouteContactsAccess, tok, "application/json", `{"contactid":[101,104,9999,105],"isShared":true,"managerList":[]}`)
	if r.status != 404 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	for _, id := range []int64{101, 104} {
		if c, _ := h.s.Contact(id); c.ShareType != 1 || len(c.ACL) != 0 {
			t.Errorf("contact %d not changed before the failure: %+v", id, c)
		}
	}
	if c, _ := h.s.Contact(105); !cmp.Equal(c, before105) {
		t.Errorf("contact 105 after the failure changed")
	}
	for _, body := range []string{`{"isShared":true}`, `{"contactid":["x"],"isShared":true}`} {
		if r := h.do("PUT", RouteContactsAccess, tok, "application/json", body); r.status != 400 {
			t.Errorf("%s: %d", body, r.status)
		}
	}
	if r := h.do("PUT", RouteContactsAccess, tok, "application/json", `{"contactid":[],"isShared":true}`); r.status != 200 || r.body != `{"status":0,"statusCode":200,"response":[]}` {
		t.Errorf("empty id list: %d %s", r.status, r.body)
	}
	if r := h.do("PUT", RouteContactsAccess, tok, "application/json", `{"contactid":null,"isShared":true}`); r.status != 400 {
		t.Errorf("null id list: %d %s", r.status, r.body)
	}
	if got, want := h.s.Writes(), 6; got != want {
		t.Errorf("Writes = %d, want %d", got, want)
	}
	if got := h.s.Calls("PUT", RouteContactsAccess); got != 6 {
		t.Errorf("bulk calls = %d", got)
	}
	h.s.ResetCounts()
	if h.s.Writes() != 0 || len(h.s.Counts()) != 0 {
		t.Errorf("ResetCounts left %d writes, %v", h.s.Writes(), h.s.Counts())
	}
}

func TestRateLimit(t *testing.T) {
	h := newHarness(t, WithRateLimit(2, 10*time.Second))
	for i := 0; i < 2; i++ {
		if r := h.do("GET", "/nothing", "", "", ""); r.status != 404 {
			t.Fatalf("%d", r.status)
		}
	}
	h.clock.Add(3 * time.Second)
	r := h.do("GET", "/nothing", "", "", "")
	if r.status != 503 || r.header.Get("Retry-After") != "7" {
		t.Fatalf("over the limit: %d Retry-After=%q", r.status, r.header.Get("Retry-After"))
	}
	if got := h.s.Injected(); !cmp.Equal(got, map[string]int{"ratelimit read": 1}) {
		t.Errorf("Injected after one 503: %v", got)
	}
	h.clock.Add(7 * time.Second)
	if r := h.do("GET", "/nothing", "", "", ""); r.status != 404 {
		t.Errorf("new window: %d", r.status)
	}
	h.s.SetRateLimit(0, 0)
	for i := 0; i < 5; i++ {
		if r := h.do("GET", "/nothing", "", "", ""); r.status != 404 {
			t.Errorf("limit off: %d", r.status)
		}
	}
}

func faultSequence(t *testing.T, seed uint64) []string {
	h := newHarness(t, WithSeed(seed), WithFaults(Faults{ErrorRates: map[int]float64{500: 0.2, 403: 0.1}, HTMLRate: 0.1, MalformedRate: 0.1}))
	var out []string
	for i := 0; i < 40; i++ {
		r := h.do("GET", "/api/2.0/people/email?email=x", "", "", "")
		out = append(out, fmt.Sprintf("%d/%d", r.status, len(r.body)))
	}
	return out
}

func TestFaultsAreDeterministic(t *testing.T) {
	a, b, c := faultSequence(t, 7), faultSequence(t, 7), faultSequence(t, 8)
	if d := cmp.Diff(a, b); d != "" {
		t.Errorf("same seed, different faults:\n%s", d)
	}
	if cmp.Equal(a, c) {
		t.Errorf("different seeds gave the same faults")
	}
	seen := map[int]bool{}
	for _, s := range a {
		var st, n int
		fmt.Sscanf(s, "%d/%d", &st, &n)
		seen[st] = true
	}
	for _, st := range []int{401, 500, 502} {
		if !seen[st] {
			t.Errorf("status %d never seen in %v", st, a)
		}
	}
}

func TestFaultKinds(t *testing.T) {
	h := newHarness(t)
	tok := h.admin()
	h.s.SetFaults(Faults{Latency: 50 * time.Millisecond, Paths: []string{"/api/2.0/people"}})
	start := time.Now()
	h.do("GET", RouteSelf, tok, "", "")
	if time.Since(start) < 50*time.Millisecond {
		t.Errorf("latency not applied")
	}
	h.s.SetFaults(Faults{DropRate: 1})
	if _, err := http.Get(h.srv.URL + RouteSelf); err == nil {
		t.Errorf("dropped connection gave an answer")
	}
	h.s.SetFaults(Faults{TruncateRate: 1})
	resp, err := http.Get(h.srv.URL + "/nothing")
	if err == nil {
		_, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	if err == nil {
		t.Errorf("truncated body read without error")
	}
	h.s.SetFaults(Faults{MalformedRate: 1})
	r := h.do("GET", RouteSelf, tok, "", "")
	if r.status != 200 || json.Valid([]byte(r.body)) {
		t.Errorf("malformed: %d %s", r.status, r.body)
	}
	// A malformed answer to a write still applied the write.
	h.s.SetFaults(Faults{MalformedRate: 1})
	h.do("PUT", "/api/2.0/crm/contact/102/access", tok, "application/json", `{"isShared":false,"managerList":[]}`)
	if c, _ := h.s.Contact(102); c.ShareType != 0 {
		t.Errorf("write behind a malformed answer not applied")
	}
	h.s.SetFaults(Faults{ErrorRates: map[int]float64{429: 1}})
	if r := h.do("GET", RouteSelf, tok, "", ""); r.status != 429 || r.header.Get("Retry-After") != "1" {
		t.Errorf("429: %d", r.status)
	}
	h.s.SetFaults(Faults{SpikeRate: 1, Spike: time.Millisecond})
	h.do("GET", RouteSelf, tok, "", "")
	got := h.s.Injected()
	if got["drop read"] < 1 { // Go's transport may retry a dropped GET once on a reused connection
		t.Errorf("drop not counted: %v", got)
	}
	delete(got, "drop read")
	want := map[string]int{"spike read": 1, "malformed read": 2, "malformed write": 1, "status read": 1}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Injected (-want +got):\n%s", d)
	}
}

func TestHooks(t *testing.T) {
	h := newHarness(t)
	if err := h.s.SetContactAccess(DemoContactGrace, 2, []string{strings.ToUpper(DemoEveID), DemoEveID}); err != nil {
		t.Fatal(err)
	}
	c, ok := h.s.Contact(DemoContactGrace)
	if !ok || c.ShareType != 2 || !cmp.Equal(c.ACL, []string{DemoEveID}) || c.DisplayName() != "Grace Hopper" {
		t.Errorf("after drift: %+v", c)
	}
	if h.s.Writes() != 0 {
		t.Errorf("a hook counted as a write")
	}
	if err := h.s.SetContactAccess(424242, 0, nil); err == nil {
		t.Errorf("SetContactAccess on a missing contact succeeded")
	}
	if err := h.s.SetContactAccess(DemoContactGrace, 3, nil); err == nil {
		t.Errorf("share type 3 accepted")
	}
	if err := h.s.SetContactAccess(DemoContactGrace, 0, []string{"x"}); err == nil {
		t.Errorf("bad GUID accepted")
	}
	// The snapshot is a copy.
	c.ACL[0] = "changed"
	if c2, _ := h.s.Contact(DemoContactGrace); c2.ACL[0] != DemoEveID {
		t.Errorf("snapshot aliases the store")
	}
	id := h.s.AddContact(Contact{IsCompany: true, CompanyName: "New Co", ShareType: 1})
	if id <= DemoContactGlobex {
		t.Errorf("new id %d", id)
	}
	uid := h.s.AddUser(User{Email: "new@demo.example.com", FirstName: "New", LastName: "User", Password: "pw"})
	if u, ok := h.s.User(uid); !ok || u.UserName != "new" || u.Status != 1 {
		t.Errorf("AddUser: %+v", u)
	}
	// Removing a user turns its ACL entries into the LostUser.
	tok := h.admin()
	h.s.RemoveUser(DemoAliceID)
	if r := h.do("GET", "/api/2.0/crm/contact/101/access", tok, "", ""); !strings.Contains(r.body, LostUserID) || strings.Contains(r.body, DemoAliceID) {
		t.Errorf("removed user: %s", r.body)
	}
	st, err := h.s.IssueToken("bob")
	if err != nil {
		t.Fatal(err)
	}
	if r := h.do("GET", RouteSelf, st, "", ""); resp(r)["id"] != DemoBobID {
		t.Errorf("issued token: %s", r.body)
	}
	if len(NewDemo().Contacts()) != 8 {
		t.Errorf("demo contacts")
	}
}

func TestConcurrentUse(t *testing.T) {
	h := newHarness(t, WithFaults(Faults{ErrorRates: map[int]float64{500: 0.1}}))
	tok := h.admin()
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for j := 0; j < 20; j++ {
				id := 101 + (i+j)%8
				h.do("PUT", fmt.Sprintf("/api/2.0/crm/contact/%d/access", id), tok, "application/json", fmt.Sprintf(`{"isShared":%v,"managerList":["%s"]}`, j%2 == 0, DemoBobID))
				h.do("GET", fmt.Sprintf("/api/2.0/crm/contact/%d", id), tok, "", "")
				_ = h.s.SetContactAccess(int64(id), j%3, nil)
				_ = h.s.Counts()
				if j%7 == 0 {
					h.s.SetFaults(Faults{ErrorRates: map[int]float64{500: 0.1}})
				}
			}
		}(i)
	}
	wg.Wait()
	if got := h.s.Calls("PUT", RouteContactAccess) + h.s.Calls("GET", RouteContact); got != 8*20*2 {
		t.Errorf("counted %d calls, want %d", got, 8*20*2)
	}
}
