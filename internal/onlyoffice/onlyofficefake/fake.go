// Package onlyofficefake is an in-memory ONLYOFFICE Workspace portal serving the parts of API
// 2.0 the contactsync controller uses: authentication, people lookup and CRM contact sharing.
// It copies the server logic of Community Server v11–v12 (see
// /work/shared/reference/onlyoffice-api.md, section 6), including its quirks:
//
//   - PUT contact/{id}/access answers the sharing fields from the state before the update;
//   - unknown manager GUIDs are stored and read back as the LostUser id ("Unknown Unknown");
//   - accessList is only present for private contacts; GET .../access lists only for them;
//   - non-admins may edit when shareType is 1 or they are in the ACL;
//   - the bulk PUT runs each id in turn and aborts at the first failure, earlier ones changed;
//   - bad credentials are a 500 envelope, a missing token a plain-text 401, more than 5 failed
//     logins in 60 s lock the login for 60 s.
//
// It also offers a documented-but-SaaS-only rate limit (503 + Retry-After), deterministic
// fault injection, call counters and hooks to inject drift. Anything it does not implement
// answers 501, never a silent success. It is safe for concurrent use.
package onlyofficefake

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"time"
)

// LostUserID is the id the portal shows for an unknown or removed user in an ACL.
const LostUserID = "4a515a15-d4d6-4b8e-828e-e0586f18f3a3"

// Route labels used by the call counters (Calls, Counts).
const (
	RouteAuthentication = "/api/2.0/authentication"
	RouteSelf           = "/api/2.0/people/@self"
	RouteUserByEmail    = "/api/2.0/people/email"
	RouteUser           = "/api/2.0/people/{user}"
	RouteUsersByStatus  = "/api/2.0/people/status/{status}"
	RouteContact        = "/api/2.0/crm/contact/{id}"
	RouteContactAccess  = "/api/2.0/crm/contact/{id}/access"
	RouteContactsAccess = "/api/2.0/crm/contact/access"
	RouteNotImplemented = "(not implemented)"
	RouteUnknown        = "(unknown)"
)

// Brute-force defaults of LoginSettings.
const (
	maxLoginAttempts = 5
	loginCheckPeriod = 60 * time.Second
	loginBlockTime   = 60 * time.Second
)

// DefaultTokenLifetime is the portal's default session lifetime.
const DefaultTokenLifetime = 365 * 24 * time.Hour

// User is a portal user.
type User struct {
	ID               string // GUID; generated when empty; stored lowercase
	UserName         string
	Email            string
	FirstName        string
	LastName         string
	Title            string
	Password         string
	Status           int  // 1 active, 2 terminated, 4 leave of absence; 0 means 1
	ActivationStatus int  // 1 activated by default (0 means 1)
	IsAdmin          bool // portal administrator (implies CRM administrator)
	IsOwner          bool
	IsVisitor        bool   // guest: no access to the CRM module
	CRMAdmin         bool   // CRM product administrator without being portal admin
	TwoFactor        string // "", "sms" or "tfa": login answers that instead of a token
}

// DisplayName is "First Last".
func (u User) DisplayName() string { return strings.TrimSpace(u.FirstName + " " + u.LastName) }

// Contact is a CRM person or company with its sharing state.
type Contact struct {
	ID          int64 // assigned when 0
	IsCompany   bool
	FirstName   string   // person
	LastName    string   // person
	CompanyName string   // company
	ShareType   int      // 0 none (private), 1 read/write, 2 read
	ACL         []string // Allow subjects (lowercase GUIDs), in stored order
	Created     time.Time
}

// DisplayName is the company name or "First Last".
func (c Contact) DisplayName() string {
	if c.IsCompany {
		return c.CompanyName
	}
	return strings.TrimSpace(c.FirstName + " " + c.LastName)
}

func (c Contact) clone() Contact {
	c.ACL = append([]string(nil), c.ACL...)
	return c
}

type token struct {
	userID  string
	expires time.Time
}

// Option configures a Server.
type Option func(*Server)

// WithClock sets the clock used for token expiry, the login lock and the rate-limit window.
func WithClock(now func() time.Time) Option { return func(s *Server) { s.now = now } }

// WithTokenLifetime sets the lifetime of issued tokens (DefaultTokenLifetime by default).
func WithTokenLifetime(d time.Duration) Option { return func(s *Server) { s.tokenLifetime = d } }

// WithSeed seeds the random source of fault injection and generated ids/tokens.
func WithSeed(seed uint64) Option {
	return func(s *Server) { s.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) }
}

// WithRateLimit answers 503 + Retry-After once more than n requests arrive in one window.
func WithRateLimit(n int, window time.Duration) Option {
	return func(s *Server) { s.rateN, s.rateWindow = n, window }
}

// WithFaults sets the initial fault injection.
func WithFaults(f Faults) Option { return func(s *Server) { s.faults = f.clone() } }

// Server is the fake portal; it is an http.Handler.
type Server struct {
	mu            sync.Mutex
	now           func() time.Time
	rng           *rand.Rand
	tokenLifetime time.Duration

	users    map[string]*User // by id
	contacts map[int64]*Contact
	nextID   int64
	tokens   map[string]token
	attempts map[string][]time.Time // login|ip -> recent attempts
	blocked  map[string]time.Time   // login|ip -> blocked until

	rateN       int
	rateWindow  time.Duration
	windowStart time.Time
	windowCount int

	faults Faults

	calls  map[string]int
	writes int
	// injected counts the faults answered, keyed "<kind> <read|write>" (Injected).
	injected map[string]int
}

// New returns an empty portal. Add users and contacts with AddUser and AddContact.
func New(opts ...Option) *Server {
	s := &Server{
		now:           time.Now,
		tokenLifetime: DefaultTokenLifetime,
		users:         map[string]*User{},
		contacts:      map[int64]*Contact{},
		nextID:        1000,
		tokens:        map[string]token{},
		attempts:      map[string][]time.Time{},
		blocked:       map[string]time.Time{},
		calls:         map[string]int{},
		injected:      map[string]int{},
	}
	WithSeed(1)(s)
	for _, o := range opts {
		o(s)
	}
	return s
}

func (s *Server) newGUID() string {
	b := make([]byte, 16)
	for i := range b {
		b[i] = byte(s.rng.UintN(256))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// AddUser adds (or replaces, by id) a user and returns its id.
func (s *Server) AddUser(u User) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if u.ID == "" {
		u.ID = s.newGUID()
	}
	if g, ok := parseGUID(u.ID); ok {
		u.ID = g
	} else {
		panic("onlyofficefake: AddUser: id is not a GUID: " + u.ID)
	}
	if u.Status == 0 {
		u.Status = 1
	}
	if u.ActivationStatus == 0 {
		u.ActivationStatus = 1
	}
	if u.UserName == "" {
		u.UserName, _, _ = strings.Cut(u.Email, "@")
	}
	s.users[u.ID] = &u
	return u.ID
}

// User returns a copy of a user.
func (s *Server) User(id string) (User, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[strings.ToLower(id)]
	if !ok {
		return User{}, false
	}
	return *u, true
}

// SetUserStatus changes a user's status (1 active, 2 terminated, 4 leave). Tokens of a user who
// is no longer active are refused.
func (s *Server) SetUserStatus(id string, status int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[strings.ToLower(id)]
	if !ok {
		return errors.New("no such user")
	}
	u.Status = status
	return nil
}

// RemoveUser deletes a user; ACL entries naming it then read back as LostUserID.
func (s *Server) RemoveUser(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.users, strings.ToLower(id))
}

// AddContact adds (or replaces, by id) a contact and returns its id. ACL GUIDs are stored
// lowercase and are not validated against the users, like the real portal.
func (s *Server) AddContact(c Contact) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.ID <= 0 {
		s.nextID++
		c.ID = s.nextID
	} else if c.ID > s.nextID {
		s.nextID = c.ID
	}
	acl, err := normalizeACL(c.ACL)
	if err != nil {
		panic("onlyofficefake: AddContact: " + err.Error())
	}
	c.ACL = acl
	if c.Created.IsZero() {
		c.Created = s.now().UTC()
	}
	cc := c.clone()
	s.contacts[c.ID] = &cc
	return c.ID
}

// RemoveContact deletes a contact.
func (s *Server) RemoveContact(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.contacts, id)
}

// Contact returns a snapshot of a contact as stored: share type and ACL GUIDs (unknown ones
// as stored, not as LostUserID).
func (s *Server) Contact(id int64) (Contact, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.contacts[id]
	if !ok {
		return Contact{}, false
	}
	return c.clone(), true
}

// Contacts returns snapshots of all contacts ordered by id.
func (s *Server) Contacts() []Contact {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Contact, 0, len(s.contacts))
	for _, c := range s.contacts {
		out = append(out, c.clone())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// SetContactAccess changes a contact's sharing directly, as a person in the web UI would (any
// share type, including 2, which the API's access endpoint cannot set). It is not counted as
// an API call or write.
func (s *Server) SetContactAccess(id int64, shareType int, acl []string) error {
	if shareType < 0 || shareType > 2 {
		return fmt.Errorf("share type %d out of range", shareType)
	}
	norm, err := normalizeACL(acl)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.contacts[id]
	if !ok {
		return fmt.Errorf("no contact %d", id)
	}
	c.ShareType, c.ACL = shareType, norm
	return nil
}

func normalizeACL(acl []string) ([]string, error) {
	out := make([]string, 0, len(acl))
	seen := map[string]bool{}
	for _, a := range acl {
		g, ok := parseGUID(a)
		if !ok {
			return nil, fmt.Errorf("ACL entry %q is not a GUID", a)
		}
		if !seen[g] {
			seen[g] = true
			out = append(out, g)
		}
	}
	return out, nil
}

// IssueToken returns a valid token for a user (by user name, email or id) without a login
// request, for clients configured with a static token.
func (s *Server) IssueToken(login string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.userByLogin(login)
	if u == nil {
		if uu, ok := s.users[strings.ToLower(login)]; ok {
			u = uu
		}
	}
	if u == nil {
		return "", errors.New("no such user")
	}
	tok, _ := s.issueTokenLocked(u)
	return tok, nil
}

func (s *Server) issueTokenLocked(u *User) (string, time.Time) {
	b := make([]byte, 24)
	for i := range b {
		b[i] = byte(s.rng.UintN(256))
	}
	tok := fmt.Sprintf("%X", b)
	exp := s.now().Add(s.tokenLifetime)
	s.tokens[tok] = token{userID: u.ID, expires: exp}
	return tok, exp
}

// InvalidateTokens makes every issued token invalid (as "log out all sessions" would): the next
// call with one gets 401.
func (s *Server) InvalidateTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens = map[string]token{}
}

// SetClock replaces the clock.
func (s *Server) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}

// SetTokenLifetime changes the lifetime of tokens issued from now on.
func (s *Server) SetTokenLifetime(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokenLifetime = d
}

// SetRateLimit enables (n > 0) or disables (n <= 0) the 503 + Retry-After rate limit.
func (s *Server) SetRateLimit(n int, window time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rateN, s.rateWindow = n, window
	s.windowStart, s.windowCount = time.Time{}, 0
}

// SetFaults replaces the fault injection (the zero Faults turns it off).
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f.clone()
}

// Calls returns how many requests arrived for method and route (a Route* label), whatever
// their outcome (rate-limited, faulted and failed ones included).
func (s *Server) Calls(method, route string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[method+" "+route]
}

// Counts returns all call counters keyed "METHOD route".
func (s *Server) Counts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.calls)
}

// LoginAttempts returns Calls("POST", RouteAuthentication).
func (s *Server) LoginAttempts() int { return s.Calls("POST", RouteAuthentication) }

// Writes returns how many write requests (PUT, POST, DELETE, PATCH; logins excluded) arrived,
// whatever their outcome.
func (s *Server) Writes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writes
}

// ResetCounts zeroes the call counters and Writes.
func (s *Server) ResetCounts() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = map[string]int{}
	s.writes = 0
	s.injected = map[string]int{}
}

// Injected returns how many faults the portal answered, keyed "<kind> <read|write>": kind is
// drop (connection closed), status (an injected error status or HTML error page), spike (a
// latency spike), malformed (a broken or truncated body) or ratelimit (503 with Retry-After
// from SetRateLimit); write is any method but GET. A test that shrinks a fault soak reads it to
// show every kind of fault still reached writes.
func (s *Server) Injected() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.injected)
}

// tally records one injected fault (caller holds s.mu).
func (s *Server) tally(kind, method string) {
	rw := "write"
	if method == "GET" {
		rw = "read"
	}
	s.injected[kind+" "+rw]++
}

// parseGUID accepts the .NET Guid.Parse forms D (8-4-4-4-12), N (32 hex), B ({D}) and P ((D))
// and returns the lowercase D form.
func parseGUID(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if len(s) == 38 && (s[0] == '{' && s[37] == '}' || s[0] == '(' && s[37] == ')') {
		s = s[1:37]
	}
	var hex string
	switch len(s) {
	case 36:
		if s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
			return "", false
		}
		hex = s[0:8] + s[9:13] + s[14:18] + s[19:23] + s[24:36]
	case 32:
		hex = s
	default:
		return "", false
	}
	for i := 0; i < len(hex); i++ {
		c := hex[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return "", false
		}
	}
	h := strings.ToLower(hex)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32], true
}
