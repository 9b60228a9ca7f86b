// Package hostupfake is an in-memory HostUp v1 API for tests and demos: an http.Handler that
// serves /api/... the way /work/shared/reference/hostup-api.md describes HostUp, quirks
// included (HTTP 200 for POST /api/teams, snake_case grant lists, camelCase invites, a DELETE
// on a grant that is a "switch back", not a revoke).
//
// Where HostUp documents nothing the fake makes one choice and says so in a comment. It adds
// test hooks (AcceptGrant, RevokeGrant, SetContactPermissions, ...), call counters, an
// optional server-side rate limit, and seeded, runtime-adjustable fault injection.
//
// It does not import package hostup: it is an independent model of the wire format, so the
// client's tests check the client against something it did not write itself.
package hostupfake

import (
	"crypto/subtle"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// DefaultAPIKey is the key New accepts unless WithAPIKey says otherwise.
const DefaultAPIKey = "hostupfake-test-key"

// DefaultInviteTTL is how long an invite stays pending. HostUp does not document it.
const DefaultInviteTTL = 7 * 24 * time.Hour

// FirstContactID is the id the first contact created through the API gets.
const FirstContactID int64 = 14000

// Service is a VPS or hosting account of the catalogue.
type Service struct {
	ID, Name string
	Category string // "vps" or "hosting"
}

// Item is a domain or a DNS zone of the catalogue.
type Item struct {
	ID, Name string
}

// Contact is a contact person of the account.
type Contact struct {
	ID                                             int64
	FirstName, LastName, Email, Password           string
	PhoneNumber, Address1, City, Country, Postcode string
}

// Permissions are a contact's rights as the fake stores them: granted ids plus the flags.
type Permissions struct {
	Services, Domains, DNSZones []string // granted ids, sorted

	CanViewInvoices, CanReceiveInvoices, CanOpenTickets, CanViewTickets bool
	CanReceiveTicketEmails, CanCloseTickets, CanPlaceOrders             bool
	AccessAllVps, AccessAllHosting, AccessAllDomains                    bool
}

// GrantPermissions are a delegated grant's rights.
type GrantPermissions struct {
	Permissions
	CanRequestEpp bool
}

// Grant is a delegated-access grant given by the account.
type Grant struct {
	ID, GrantorClientID, Label                                 string
	GranteeClientID, GranteeName, GranteeEmail, GranteeCompany string // empty until accepted
	InviteEmail, InviteToken                                   string
	InviteExpiresAt, InviteAcceptedAt, RevokedAt               *time.Time
	CreatedAt, UpdatedAt                                       time.Time
	Permissions                                                GrantPermissions
	Status                                                     string // computed by Grants(): pending, active, expired, revoked
}

// Grant states. HostUp documents only "active"; the others are the fake's (and the likely)
// reading of revoked_at / invite_expires_at / invite_accepted_at.
const (
	StatusPending = "pending"
	StatusActive  = "active"
	StatusExpired = "expired"
	StatusRevoked = "revoked"
)

func (g *Grant) status(now time.Time) string {
	switch {
	case g.RevokedAt != nil:
		return StatusRevoked
	case g.InviteAcceptedAt != nil:
		return StatusActive
	case g.InviteExpiresAt != nil && !now.Before(*g.InviteExpiresAt):
		return StatusExpired
	}
	return StatusPending
}

// Session is what GET /api/session-info answers.
type Session struct {
	Authenticated, IsContact, CanAccessCdn bool
	AuthType                               string
}

// Server is the fake HostUp API. Create it with New or NewDemo; it is safe for concurrent use.
type Server struct {
	mux *http.ServeMux

	// accessAllExpanded: see WithAccessAllExpanded.
	accessAllExpanded bool
	// deleteGoneStatus: see WithDeleteGoneStatus.
	deleteGoneStatus int
	// stringLists: see WithStringLists.
	stringLists bool
	// createOmitsSuccess: see WithCreateOmitsSuccess.
	createOmitsSuccess bool
	// grantRows: see WithDocumentedGrantRows.
	grantRows bool

	mu        sync.Mutex
	apiKey    string
	now       func() time.Time
	inviteTTL time.Duration
	clientID  string
	session   Session
	rng       *rand.Rand

	services      []Service
	domains       []Item
	zones         []Item
	contacts      map[int64]*Contact
	perms         map[int64]*Permissions
	nextContactID int64
	grants        map[string]*Grant
	grantOrder    []string

	limiter   *rate.Limiter
	rateBurst int

	faults     Faults
	programmed []programmed

	counts map[string]int
	writes int
	// injected counts the faults answered, keyed "<kind> <read|write>" (Injected).
	injected map[string]int
}

// Option configures New.
type Option func(*Server)

// WithAPIKey sets the accepted API key (DefaultAPIKey otherwise).
func WithAPIKey(key string) Option { return func(s *Server) { s.apiKey = key } }

// WithClock sets the clock used for timestamps, invite expiry and the rate limit.
func WithClock(now func() time.Time) Option { return func(s *Server) { s.now = now } }

// WithInviteTTL sets how long invites stay pending (DefaultInviteTTL otherwise).
func WithInviteTTL(d time.Duration) Option { return func(s *Server) { s.inviteTTL = d } }

// WithRateLimit turns the server-side rate limit on (rps <= 0 turns it off).
func WithRateLimit(rps float64, burst int) Option {
	return func(s *Server) { s.setRateLimit(rps, burst) }
}

// WithSeed seeds the random source of ids, tokens and faults (1 otherwise).
func WithSeed(seed uint64) Option {
	return func(s *Server) { s.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) }
}

// WithClientID sets the account's client id, the grants' grantor_client_id ("30000" otherwise).
// WithAccessAllExpanded makes GET permissions report hasAccess:true on every VPS, hosting
// service or domain while accessAllVps, accessAllHosting or accessAllDomains is on. INFERRED:
// the docs do not say which of the two conventions HostUp uses (hostup-api.md §2.1 shows
// hasAccess per item and the accessAll* flags side by side); the default reports the stored
// per-item flags only. The product must converge under both.
func WithAccessAllExpanded() Option { return func(s *Server) { s.accessAllExpanded = true } }

// WithDeleteGoneStatus makes DELETE /api/teams of a contact that does not exist answer status
// (400 or 503) with "Failed to delete contact" instead of 404. DOCUMENTED: hostup-api.md §1.2
// lists 400 and 503 "Failed to delete contact" and no 404; the default 404 is inferred.
func WithDeleteGoneStatus(status int) Option { return func(s *Server) { s.deleteGoneStatus = status } }

// WithStringLists makes GET permissions give domains and dnsZones as arrays of the granted
// items' ids (strings), the shape the older GET doc stub shows (hostup-api.md §2.1:
// DOCUMENTED). The default gives objects {id, name, type, hasAccess} for every item of the
// account (INFERRED from the POST example and the delegated-access permissions page).
func WithStringLists() Option { return func(s *Server) { s.stringLists = true } }

// WithCreateOmitsSuccess leaves data.success out of a successful POST /api/teams answer.
// DOCUMENTED as possible: seed 002 does not mark data.success as required.
func WithCreateOmitsSuccess() Option { return func(s *Server) { s.createOmitsSuccess = true } }

// WithDocumentedGrantRows serves grant rows only as far as HostUp documents them: status is
// sent only for active grants ("active" is the one documented value), and a revoked grant's
// row disappears from the list instead of carrying revoked_at (INFERRED as possible: the list
// page was only partly visible). The default sends every status and keeps revoked rows.
func WithDocumentedGrantRows() Option { return func(s *Server) { s.grantRows = true } }

func WithClientID(id string) Option { return func(s *Server) { s.clientID = id } }

// New returns an empty account: no catalogue, no contacts, no grants, no faults.
func New(opts ...Option) *Server {
	s := &Server{
		apiKey:        DefaultAPIKey,
		now:           time.Now,
		inviteTTL:     DefaultInviteTTL,
		clientID:      "30000",
		session:       Session{Authenticated: true, CanAccessCdn: true, AuthType: "api_key"},
		contacts:      map[int64]*Contact{},
		perms:         map[int64]*Permissions{},
		nextContactID: FirstContactID,
		grants:        map[string]*Grant{},
		counts:        map[string]int{},
		injected:      map[string]int{},
	}
	WithSeed(1)(s)
	for _, o := range opts {
		o(s)
	}
	s.routes()
	return s
}

// NewDemo returns a realistic account: three VPS and two hosting services, three domains and
// their DNS zones, two contacts (14000 with ops rights, 14001 with billing rights; the next
// created contact is 14002) and one active delegated grant.
func NewDemo(opts ...Option) *Server {
	s := New(opts...)
	for _, sv := range []Service{
		{"14101", "VPS XS", "vps"}, {"14102", "VPS M", "vps"}, {"14103", "VPS L db-1", "vps"},
		{"18732", "Webbhotell Start", "hosting"}, {"18733", "Webbhotell Pro", "hosting"},
	} {
		must(s.AddService(sv.ID, sv.Name, sv.Category))
	}
	for _, d := range []Item{{"21266", "example.com"}, {"21267", "example.se"}, {"20750", "shop.example.se"}} {
		must(s.AddDomain(d.ID, d.Name))
	}
	for _, z := range []Item{{"3034", "example.com"}, {"3035", "example.se"}, {"19513", "shop.example.se"}} {
		must(s.AddDNSZone(z.ID, z.Name))
	}
	anna := s.AddContact(Contact{FirstName: "Anna", LastName: "Svensson", Email: "anna.svensson@example.com", Password: "demo-password-1"})
	erik := s.AddContact(Contact{FirstName: "Erik", LastName: "Lind", Email: "erik.lind@example.com", Password: "demo-password-2"})
	must(s.SetContactPermissions(anna, Permissions{
		Services: []string{"14101"}, Domains: []string{"21266"}, DNSZones: []string{"3034"},
		CanOpenTickets: true, CanViewTickets: true, CanReceiveTicketEmails: true, CanCloseTickets: true,
	}))
	must(s.SetContactPermissions(erik, Permissions{CanViewInvoices: true, CanReceiveInvoices: true}))

	s.mu.Lock()
	now := s.now().UTC()
	created, accepted := now.Add(-30*24*time.Hour), now.Add(-29*24*time.Hour)
	g := &Grant{
		ID: s.uuid(), GrantorClientID: s.clientID, Label: "Consultant",
		GranteeClientID: "30412", GranteeName: "Karin Berg", GranteeEmail: "karin@consult.example", GranteeCompany: "Berg IT AB",
		InviteToken: s.token(), InviteAcceptedAt: &accepted, CreatedAt: created, UpdatedAt: accepted,
		Permissions: GrantPermissions{Permissions: Permissions{AccessAllVps: true, CanOpenTickets: true, CanViewTickets: true}},
	}
	s.grants[g.ID] = g
	s.grantOrder = append(s.grantOrder, g.ID)
	s.mu.Unlock()
	return s
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

// SetClock replaces the clock.
func (s *Server) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}

// SetAPIKey replaces the accepted API key.
func (s *Server) SetAPIKey(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apiKey = key
}

// SetSession sets what GET /api/session-info answers.
func (s *Server) SetSession(si Session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.session = si
}

// SetRateLimit turns the server-side rate limit on (rps > 0) or off (rps <= 0).
func (s *Server) SetRateLimit(rps float64, burst int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.setRateLimit(rps, burst)
}

func (s *Server) setRateLimit(rps float64, burst int) {
	if rps <= 0 {
		s.limiter = nil
		return
	}
	if burst < 1 {
		burst = 1
	}
	s.limiter = rate.NewLimiter(rate.Limit(rps), burst)
	s.rateBurst = burst
}

// AddService adds a service (category "vps" or "hosting") with a numeric string id.
func (s *Server) AddService(id, name, category string) error {
	if category != "vps" && category != "hosting" {
		return fmt.Errorf("cannot add service %s: category %q is not vps or hosting", id, category)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkNewID(id); err != nil {
		return fmt.Errorf("cannot add service: %w", err)
	}
	s.services = append(s.services, Service{ID: id, Name: name, Category: category})
	return nil
}

// AddDomain adds a domain with a numeric string id.
func (s *Server) AddDomain(id, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkNewID(id); err != nil {
		return fmt.Errorf("cannot add domain: %w", err)
	}
	s.domains = append(s.domains, Item{ID: id, Name: name})
	return nil
}

// AddDNSZone adds a DNS zone with a numeric string id.
func (s *Server) AddDNSZone(id, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkNewID(id); err != nil {
		return fmt.Errorf("cannot add DNS zone: %w", err)
	}
	s.zones = append(s.zones, Item{ID: id, Name: name})
	return nil
}

// checkNewID requires a numeric id unused in any catalogue list (HostUp's legacy ids of
// services, domains and zones come from different tables, but keeping them apart in the fake
// catches a client that sends an id in the wrong list).
func (s *Server) checkNewID(id string) error {
	if !isDigits(id) {
		return fmt.Errorf("id %q is not numeric", id)
	}
	if s.catalogueKind(id) != "" {
		return fmt.Errorf("id %s already exists", id)
	}
	return nil
}

func (s *Server) catalogueKind(id string) string {
	switch {
	case slices.ContainsFunc(s.services, func(x Service) bool { return x.ID == id }):
		return "service"
	case slices.ContainsFunc(s.domains, func(x Item) bool { return x.ID == id }):
		return "domain"
	case slices.ContainsFunc(s.zones, func(x Item) bool { return x.ID == id }):
		return "dns_zone"
	}
	return ""
}

// AddContact adds a contact as if created in the dashboard and returns its id (c.ID when
// set, else the next id). It starts without permissions.
func (s *Server) AddContact(c Contact) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addContact(c)
}

func (s *Server) addContact(c Contact) int64 {
	if c.ID <= 0 {
		c.ID = s.nextContactID
	}
	if c.ID >= s.nextContactID {
		s.nextContactID = c.ID + 1
	}
	s.contacts[c.ID] = &c
	s.perms[c.ID] = &Permissions{}
	return c.ID
}

// RemoveContact deletes a contact as a person would in the dashboard (not counted as a write).
func (s *Server) RemoveContact(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.contacts, id)
	delete(s.perms, id)
}

// Contacts returns a snapshot of the contacts, by id.
func (s *Server) Contacts() []Contact {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Contact, 0, len(s.contacts))
	for _, c := range s.contacts {
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// ContactPermissions returns a copy of a contact's permissions; false if there is no such contact.
func (s *Server) ContactPermissions(id int64) (Permissions, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.perms[id]
	if !ok {
		return Permissions{}, false
	}
	return p.clone(), true
}

// SetContactPermissions replaces a contact's permissions as a person in the dashboard would
// (drift). It is not counted as a write.
func (s *Server) SetContactPermissions(id int64, p Permissions) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.contacts[id]; !ok {
		return fmt.Errorf("cannot set permissions: no contact %d", id)
	}
	if err := s.checkGranted(p); err != nil {
		return fmt.Errorf("cannot set permissions of contact %d: %w", id, err)
	}
	c := p.clone()
	s.perms[id] = &c
	return nil
}

func (s *Server) checkGranted(p Permissions) error {
	for _, l := range []struct {
		kind string
		ids  []string
	}{{"service", p.Services}, {"domain", p.Domains}, {"dns_zone", p.DNSZones}} {
		for _, id := range l.ids {
			if s.catalogueKind(id) != l.kind {
				return fmt.Errorf("unknown %s id %q", l.kind, id)
			}
		}
	}
	return nil
}

func (p Permissions) clone() Permissions {
	c := p
	c.Services = sortedUnique(p.Services)
	c.Domains = sortedUnique(p.Domains)
	c.DNSZones = sortedUnique(p.DNSZones)
	return c
}

func sortedUnique(ids []string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return slices.Compact(out)
}

func (p Permissions) equal(q Permissions) bool {
	return slices.Equal(p.Services, q.Services) && slices.Equal(p.Domains, q.Domains) && slices.Equal(p.DNSZones, q.DNSZones) &&
		p.CanViewInvoices == q.CanViewInvoices && p.CanReceiveInvoices == q.CanReceiveInvoices &&
		p.CanOpenTickets == q.CanOpenTickets && p.CanViewTickets == q.CanViewTickets &&
		p.CanReceiveTicketEmails == q.CanReceiveTicketEmails && p.CanCloseTickets == q.CanCloseTickets &&
		p.CanPlaceOrders == q.CanPlaceOrders && p.AccessAllVps == q.AccessAllVps &&
		p.AccessAllHosting == q.AccessAllHosting && p.AccessAllDomains == q.AccessAllDomains
}

// Grants returns a snapshot of the grants in creation order, with Status computed now.
func (s *Server) Grants() []Grant {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	out := make([]Grant, 0, len(s.grantOrder))
	for _, id := range s.grantOrder {
		g := *s.grants[id]
		g.Status = g.status(now)
		g.Permissions.Permissions = g.Permissions.Permissions.clone()
		out = append(out, g)
	}
	return out
}

// AcceptGrant accepts a pending invite as the invited person would (HostUp's accept runs in
// the grantee's dashboard session). Like the documented accepted example, invite_email and
// invite_expires_at become null.
func (s *Server) AcceptGrant(id, granteeClientID, name, email, company string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.grants[id]
	if !ok {
		return fmt.Errorf("cannot accept grant %s: no such grant", id)
	}
	now := s.now().UTC()
	if st := g.status(now); st != StatusPending {
		return fmt.Errorf("cannot accept grant %s: it is %s", id, st)
	}
	g.GranteeClientID, g.GranteeName, g.GranteeEmail, g.GranteeCompany = granteeClientID, name, email, company
	g.InviteAcceptedAt = &now
	g.InviteEmail, g.InviteExpiresAt = "", nil
	g.UpdatedAt = now
	return nil
}

// RevokeGrant revokes a grant as a person in the dashboard would (HostUp documents no API for it).
func (s *Server) RevokeGrant(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.grants[id]
	if !ok {
		return fmt.Errorf("cannot revoke grant %s: no such grant", id)
	}
	if g.RevokedAt != nil {
		return fmt.Errorf("cannot revoke grant %s: already revoked", id)
	}
	now := s.now().UTC()
	g.RevokedAt, g.UpdatedAt = &now, now
	return nil
}

// SetGrantPermissions sets a grant's permissions (HostUp documents no API for it; new grants
// start with everything false).
func (s *Server) SetGrantPermissions(id string, p GrantPermissions) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	g, ok := s.grants[id]
	if !ok {
		return fmt.Errorf("cannot set grant permissions: no grant %s", id)
	}
	if err := s.checkGranted(p.Permissions); err != nil {
		return fmt.Errorf("cannot set permissions of grant %s: %w", id, err)
	}
	g.Permissions = GrantPermissions{Permissions: p.Permissions.clone(), CanRequestEpp: p.CanRequestEpp}
	return nil
}

// Calls returns how many requests arrived for key, e.g. "GET /api/contacts/{id}/permissions"
// (the route pattern; unrouted requests count as "METHOD /path"). Every arriving request is
// counted, including those answered by a fault, the rate limit or a 401.
func (s *Server) Calls(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[key]
}

// Counts returns a copy of all call counters.
func (s *Server) Counts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.counts)
}

// Writes returns how many API calls changed state (created or deleted a contact, changed
// permissions, created an invite). A permission POST that changes nothing is not a write.
func (s *Server) Writes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writes
}

// ResetCounters zeroes Calls, Counts and Writes.
func (s *Server) ResetCounters() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts = map[string]int{}
	s.writes = 0
	s.injected = map[string]int{}
}

// Injected returns how many faults the server answered, keyed "<kind> <read|write>": kind is
// drop (connection closed), status (an injected error status), spike (a latency spike),
// malformed (a broken or truncated body) or ratelimit (429 with Retry-After, from the
// account's rate limit or a programmed Fault{Status: 429}); write is any method but GET. A
// test that shrinks a fault soak reads it to show every kind of fault still reached writes.
func (s *Server) Injected() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.injected)
}

// tally records one injected fault (caller holds s.mu).
func (s *Server) tally(kind, method string) {
	rw := "write"
	if method == http.MethodGet {
		rw = "read"
	}
	s.injected[kind+" "+rw]++
}

func (s *Server) authorized(r *http.Request) bool {
	s.mu.Lock()
	key := s.apiKey
	s.mu.Unlock()
	eq := func(v string) bool { return v != "" && subtle.ConstantTimeCompare([]byte(v), []byte(key)) == 1 }
	// Undocumented: which header wins when both are sent. The fake accepts either.
	if eq(r.Header.Get("X-API-Key")) {
		return true
	}
	auth := r.Header.Get("Authorization")
	if scheme, tok, ok := strings.Cut(auth, " "); ok && strings.EqualFold(scheme, "Bearer") {
		return eq(strings.TrimSpace(tok))
	}
	return false
}

// uuid returns a random UUID v4 from the seeded source (caller holds s.mu).
func (s *Server) uuid() string {
	var b [16]byte
	for i := range b {
		b[i] = byte(s.rng.UintN(256))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// token returns a random invite token (caller holds s.mu).
func (s *Server) token() string {
	var b [24]byte
	for i := range b {
		b[i] = byte(s.rng.UintN(256))
	}
	return fmt.Sprintf("%x", b[:])
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// isoTime formats like HostUp's examples: 2026-02-10T00:00:00.000Z.
func isoTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }
