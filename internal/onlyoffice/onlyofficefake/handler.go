package onlyofficefake

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// .NET HResult defaults of the exceptions the real server maps (unverified except E_FAIL).
const (
	hresultDefault  = -2146233088 // System.Exception (ItemNotFoundException)
	hresultArgument = -2147024809 // ArgumentException
	hresultSecurity = -2146233078 // SecurityException
	hresultAuth     = -2146233087 // AuthenticationException (SystemException)
	hresultNotImpl  = -2147467263 // NotImplementedException
)

const apiDateLayout = "2006-01-02T15:04:05.0000000Z07:00"

// knownModules are API 2.0 modules of a real portal; unhandled routes under them answer 501.
var knownModules = map[string]bool{
	"authentication": true, "people": true, "crm": true, "files": true, "project": true,
	"mail": true, "portal": true, "settings": true, "group": true, "community": true,
	"calendar": true, "feed": true, "security": true, "capabilities": true,
}

type envelopeOut struct {
	Count      int       `json:"count,omitempty"`
	Status     int       `json:"status"`
	StatusCode int       `json:"statusCode"`
	Response   any       `json:"response,omitempty"`
	Error      *errorOut `json:"error,omitempty"`
}

type errorOut struct {
	Message string   `json:"message"`
	HResult int      `json:"hresult"`
	Data    struct{} `json:"data"`
}

type employeeOut struct {
	ID          string `json:"id"`
	DisplayName string `json:"displayName"`
	Title       string `json:"title,omitempty"`
	AvatarSmall string `json:"avatarSmall"`
	ProfileURL  string `json:"profileUrl"`
}

type userOut struct {
	ID               string `json:"id"`
	UserName         string `json:"userName"`
	IsVisitor        bool   `json:"isVisitor"`
	FirstName        string `json:"firstName"`
	LastName         string `json:"lastName"`
	Email            string `json:"email"`
	Status           int    `json:"status"`
	ActivationStatus int    `json:"activationStatus"`
	Title            string `json:"title,omitempty"`
	IsAdmin          bool   `json:"isAdmin"`
	IsOwner          bool   `json:"isOwner"`
	IsLDAP           bool   `json:"isLDAP"`
	IsSSO            bool   `json:"isSSO"`
	DisplayName      string `json:"displayName"`
	AvatarSmall      string `json:"avatarSmall"`
	ProfileURL       string `json:"profileUrl"`
}

type contactOut struct {
	ID            int64          `json:"id"`
	DisplayName   string         `json:"displayName"`
	IsCompany     bool           `json:"isCompany"`
	IsPrivate     bool           `json:"isPrivate"`
	IsShared      bool           `json:"isShared"`
	ShareType     int            `json:"shareType"`
	AccessList    *[]employeeOut `json:"accessList,omitempty"`
	Currency      any            `json:"currency"`
	CanEdit       bool           `json:"canEdit"`
	CanDelete     bool           `json:"canDelete"`
	SmallFotoURL  string         `json:"smallFotoUrl"`
	MediumFotoURL string         `json:"mediumFotoUrl"`
	CreateBy      *employeeOut   `json:"createBy,omitempty"`
	Created       string         `json:"created"`
	CommonData    []any          `json:"commonData"`
	CustomFields  []any          `json:"customFields"`
	Tags          []string       `json:"tags"`
	TaskCount     int            `json:"taskCount"`
	HaveLateTasks bool           `json:"haveLateTasks"`
	FirstName     string         `json:"firstName,omitempty"`
	LastName      string         `json:"lastName,omitempty"`
	CompanyName   string         `json:"companyName,omitempty"`
	PersonsCount  *int           `json:"personsCount,omitempty"`
}

// apiError is an answer the handlers return instead of a payload.
type apiError struct {
	status  int
	message string
	hresult int
}

func notFound(msg string) *apiError { return &apiError{http.StatusNotFound, msg, hresultDefault} }
func badRequest(msg string) *apiError {
	return &apiError{http.StatusBadRequest, msg, hresultArgument}
}
func accessDenied() *apiError {
	return &apiError{http.StatusForbidden, "Access Denied", hresultSecurity}
}

// route is a resolved request.
type route struct {
	label  string // Route* constant
	kind   int
	id     int64 // contact id from the path
	idText string
	user   string // people/{user}
}

const (
	kindUnknown = iota // HTML 404
	kindNotImplemented
	kindLogin
	kindSelf
	kindUserByEmail
	kindUser
	kindUsersByStatus
	kindGetContact
	kindGetAccess
	kindPutAccess
	kindPutBatch
)

func resolve(method, path string) route {
	p := strings.TrimSuffix(path, "/")
	if !strings.HasPrefix(p, "/api/2.0/") {
		return route{label: RouteUnknown, kind: kindUnknown}
	}
	rest := strings.TrimPrefix(p, "/api/2.0/")
	if i := strings.LastIndexByte(rest, '.'); i > strings.LastIndexByte(rest, '/') {
		switch rest[i:] {
		case ".json":
			rest = rest[:i]
		case ".xml", ".tml":
			return route{label: RouteNotImplemented, kind: kindNotImplemented} // XML output
		}
	}
	seg := strings.Split(rest, "/")
	ni := route{label: RouteNotImplemented, kind: kindNotImplemented}
	is := func(m string, r route) route {
		if method != m {
			return ni
		}
		return r
	}
	switch {
	case len(seg) == 1 && seg[0] == "authentication":
		return is(http.MethodPost, route{label: RouteAuthentication, kind: kindLogin})
	case len(seg) == 2 && seg[0] == "people" && seg[1] == "@self":
		return is(http.MethodGet, route{label: RouteSelf, kind: kindSelf})
	case len(seg) == 2 && seg[0] == "people" && seg[1] == "email":
		return is(http.MethodGet, route{label: RouteUserByEmail, kind: kindUserByEmail})
	case len(seg) == 3 && seg[0] == "people" && seg[1] == "status" && isDigits(seg[2]):
		return is(http.MethodGet, route{label: RouteUsersByStatus, kind: kindUsersByStatus, idText: seg[2]})
	case len(seg) == 2 && seg[0] == "people" && !strings.HasPrefix(seg[1], "@") && seg[1] != "" &&
		!map[string]bool{"filter": true, "search": true, "status": true, "import": true, "photo": true, "invite": true, "delete": true, "type": true}[seg[1]]:
		return is(http.MethodGet, route{label: RouteUser, kind: kindUser, user: seg[1]})
	case len(seg) >= 3 && seg[0] == "crm" && seg[1] == "contact":
		if len(seg) == 3 && seg[2] == "access" {
			return is(http.MethodPut, route{label: RouteContactsAccess, kind: kindPutBatch})
		}
		if !isDigits(seg[2]) {
			switch seg[2] {
			case "filter", "person", "company", "bycontactinfo", "byprefix", "simple", "mailsmtp",
				"mailsend", "access", "merge", "socialmediaavatar", "status", "type", "tag", "import":
				return ni
			}
			return route{label: RouteUnknown, kind: kindUnknown} // {contactid:[0-9]+} does not match
		}
		id, err := strconv.ParseInt(seg[2], 10, 64)
		if err != nil || id > math.MaxInt32 {
			id = -1 // int overflow: a conversion failure, 400
		}
		switch {
		case len(seg) == 3 && method == http.MethodGet:
			return route{label: RouteContact, kind: kindGetContact, id: id, idText: seg[2]}
		case len(seg) == 4 && seg[3] == "access" && method == http.MethodGet:
			return route{label: RouteContactAccess, kind: kindGetAccess, id: id, idText: seg[2]}
		case len(seg) == 4 && seg[3] == "access" && method == http.MethodPut:
			return route{label: RouteContactAccess, kind: kindPutAccess, id: id, idText: seg[2]}
		}
		return ni
	case knownModules[seg[0]]:
		return ni
	}
	return route{label: RouteUnknown, kind: kindUnknown}
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// ServeHTTP serves the portal.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt := resolve(r.Method, r.URL.Path)

	s.mu.Lock()
	s.calls[r.Method+" "+rt.label]++
	if rt.kind != kindLogin && (r.Method == http.MethodPut || r.Method == http.MethodPost || r.Method == http.MethodDelete || r.Method == http.MethodPatch) {
		s.writes++
	}
	retryAfter := s.rateLimitLocked()
	var plan faultPlan
	if retryAfter == 0 {
		plan = s.planFaults(r.URL.Path)
	}
	switch {
	case retryAfter > 0:
		s.tally("ratelimit", r.Method)
	case plan.drop:
		s.tally("drop", r.Method)
	case plan.html || plan.status != 0:
		s.tally("status", r.Method)
	case plan.malformed || plan.truncate:
		s.tally("malformed", r.Method)
	}
	if plan.delay > s.faults.Latency {
		s.tally("spike", r.Method)
	}
	s.mu.Unlock()

	if retryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
		writeHTML(w, http.StatusServiceUnavailable, nginxPage(http.StatusServiceUnavailable))
		return
	}
	if plan.delay > 0 {
		t := time.NewTimer(plan.delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	switch {
	case plan.drop:
		dropConnection(w)
		return
	case plan.html:
		writeHTML(w, http.StatusBadGateway, nginxPage(http.StatusBadGateway))
		return
	case plan.status != 0:
		writeInjectedStatus(w, plan.status)
		return
	}

	if !plan.malformed && !plan.truncate {
		s.serve(w, r, rt)
		return
	}
	rec := &recorder{header: http.Header{}}
	s.serve(rec, r, rt)
	for k, v := range rec.header {
		w.Header()[k] = v
	}
	body := rec.body.Bytes()
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	if plan.malformed {
		body = malform(body)
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(rec.status)
		_, _ = w.Write(body)
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(rec.status)
	_, _ = w.Write(body[:len(body)/2])
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	// The handler wrote less than Content-Length: net/http closes the connection.
}

type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}

// rateLimitLocked counts the request in the fixed window and returns the Retry-After seconds
// when it is over the limit (0 otherwise).
func (s *Server) rateLimitLocked() int {
	if s.rateN <= 0 || s.rateWindow <= 0 {
		return 0
	}
	now := s.now()
	if s.windowStart.IsZero() || !now.Before(s.windowStart.Add(s.rateWindow)) {
		s.windowStart, s.windowCount = now, 0
	}
	s.windowCount++
	if s.windowCount <= s.rateN {
		return 0
	}
	left := s.windowStart.Add(s.rateWindow).Sub(now)
	secs := int(math.Ceil(left.Seconds()))
	if secs < 1 {
		secs = 1
	}
	return secs
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request, rt route) {
	switch rt.kind {
	case kindUnknown:
		writeHTML(w, http.StatusNotFound, notFoundPage)
		return
	case kindNotImplemented:
		writeError(w, http.StatusNotImplemented, "The method or operation is not implemented by onlyofficefake.", hresultNotImpl)
		return
	case kindLogin:
		s.login(w, r)
		return
	}
	caller, hadAuth := s.authenticate(r)
	if caller == nil {
		writeUnauthorized(w, hadAuth, r.Host)
		return
	}
	var (
		payload any
		aerr    *apiError
	)
	switch rt.kind {
	case kindSelf:
		payload = userWire(caller)
	case kindUserByEmail:
		payload, aerr = s.userByEmail(r)
	case kindUser:
		payload, aerr = s.userByName(rt.user)
	case kindUsersByStatus:
		payload, aerr = s.usersByStatus(r, rt.idText)
	case kindGetContact, kindGetAccess, kindPutAccess, kindPutBatch:
		if caller.IsVisitor {
			aerr = &apiError{http.StatusForbidden, "Forbidden", hresultSecurity}
			break
		}
		switch rt.kind {
		case kindGetContact:
			payload, aerr = s.getContact(caller, rt.id)
		case kindGetAccess:
			payload, aerr = s.getAccess(caller, rt.id)
		case kindPutAccess:
			payload, aerr = s.putAccess(caller, r, rt)
		case kindPutBatch:
			payload, aerr = s.putBatch(caller, r)
		}
	}
	if aerr != nil {
		writeError(w, aerr.status, aerr.message, aerr.hresult)
		return
	}
	writeOK(w, http.StatusOK, payload)
}

// authenticate finds the caller from Authorization (raw token, Bearer or Basic), the
// asc_auth_key cookie or the asc_auth_key parameter. hadAuth reports an Authorization header.
func (s *Server) authenticate(r *http.Request) (u *User, hadAuth bool) {
	h := strings.TrimSpace(r.Header.Get("Authorization"))
	hadAuth = h != ""
	s.mu.Lock()
	defer s.mu.Unlock()
	var cands []string
	if c, err := r.Cookie("asc_auth_key"); err == nil && c.Value != "" {
		cands = append(cands, c.Value)
	}
	if h != "" {
		scheme, rest, _ := strings.Cut(h, " ")
		switch {
		case strings.EqualFold(scheme, "Basic"):
			if raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(rest)); err == nil {
				name, pw, _ := strings.Cut(string(raw), ":")
				if u := s.userByLogin(name); u != nil && u.Password == pw && u.Status == 1 && u.TwoFactor == "" {
					return u, hadAuth
				}
			}
		case strings.EqualFold(scheme, "Bearer"):
			cands = append(cands, strings.TrimSpace(rest))
		default:
			cands = append(cands, h)
		}
	}
	if q := r.URL.Query().Get("asc_auth_key"); q != "" {
		cands = append(cands, q)
	}
	now := s.now()
	for _, c := range cands {
		t, ok := s.tokens[c]
		if !ok {
			continue
		}
		if !now.Before(t.expires) {
			delete(s.tokens, c)
			continue
		}
		if u := s.users[t.userID]; u != nil && u.Status == 1 {
			return u, hadAuth
		}
	}
	return nil, hadAuth
}

// userByLogin finds a user by user name or email, case-insensitively. Called with s.mu held.
func (s *Server) userByLogin(login string) *User {
	login = strings.TrimSpace(login)
	if login == "" {
		return nil
	}
	for _, u := range s.users {
		if strings.EqualFold(u.UserName, login) || strings.EqualFold(u.Email, login) {
			return u
		}
	}
	return nil
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	a, aerr := readArgs(r)
	if aerr != nil {
		writeError(w, aerr.status, aerr.message, aerr.hresult)
		return
	}
	name, pw := a.first("username"), a.first("password")
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		ip = r.RemoteAddr
	}
	key := strings.ToLower(strings.TrimSpace(name)) + "|" + ip

	s.mu.Lock()
	now := s.now()
	if until, ok := s.blocked[key]; ok && now.Before(until) {
		s.mu.Unlock()
		writeError(w, http.StatusInternalServerError, "Login Fail. Too many attempts", hresultAuth)
		return
	}
	// BruteForceLoginManager: every attempt is counted first, a successful one is taken back.
	hist := s.attempts[key][:0:0]
	for _, t := range s.attempts[key] {
		if now.Sub(t) < loginCheckPeriod {
			hist = append(hist, t)
		}
	}
	hist = append(hist, now)
	if len(hist) > maxLoginAttempts {
		s.blocked[key] = now.Add(loginBlockTime)
		delete(s.attempts, key)
		s.mu.Unlock()
		writeError(w, http.StatusInternalServerError, "Login Fail. Too many attempts", hresultAuth)
		return
	}
	s.attempts[key] = hist
	u := s.userByLogin(name)
	if u == nil || pw == "" || u.Password != pw || u.Status != 1 {
		s.mu.Unlock()
		writeError(w, http.StatusInternalServerError, "User authentication failed", hresultAuth)
		return
	}
	s.attempts[key] = hist[:len(hist)-1]
	var resp any
	switch u.TwoFactor {
	case "sms":
		resp = map[string]any{"sms": true, "phoneNoise": "+1 *** *** **42", "expires": now.Add(10 * time.Minute).UTC().Format(apiDateLayout)}
	case "tfa":
		resp = map[string]any{"tfa": true, "tfaKey": "FAKE2FAKEY"}
	default:
		tok, exp := s.issueTokenLocked(u)
		resp = map[string]any{"token": tok, "expires": exp.UTC().Format(apiDateLayout)}
		http.SetCookie(w, &http.Cookie{Name: "asc_auth_key", Value: tok, Path: "/", HttpOnly: true, Secure: r.TLS != nil, Expires: exp})
	}
	s.mu.Unlock()
	writeOK(w, http.StatusCreated, resp)
}

func (s *Server) userByEmail(r *http.Request) (any, *apiError) {
	a, aerr := readArgs(r)
	if aerr != nil {
		return nil, aerr
	}
	email := strings.TrimSpace(a.first("email"))
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range s.users {
		if email != "" && strings.EqualFold(u.Email, email) {
			return userWire(u), nil
		}
	}
	return nil, notFound("User not found")
}

func (s *Server) userByName(name string) (any, *apiError) {
	name, _ = url.PathUnescape(name)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range s.users {
		if strings.EqualFold(u.UserName, name) {
			return userWire(u), nil
		}
	}
	if g, ok := parseGUID(name); ok {
		if u := s.users[g]; u != nil {
			return userWire(u), nil
		}
	}
	return nil, notFound("User not found")
}

// usersByStatus is GET people/status/{status}: the users of that status (visitors included),
// ordered by user name, paged by the API framework's count and startIndex.
func (s *Server) usersByStatus(r *http.Request, status string) (any, *apiError) {
	a, aerr := readArgs(r)
	if aerr != nil {
		return nil, aerr
	}
	st, _ := strconv.Atoi(status)
	s.mu.Lock()
	var all []*User
	for _, u := range s.users {
		if u.Status == st {
			all = append(all, u)
		}
	}
	s.mu.Unlock()
	sort.Slice(all, func(i, j int) bool { return all[i].UserName < all[j].UserName })
	start, _ := strconv.Atoi(a.first("startindex"))
	start = min(max(start, 0), len(all))
	end := len(all)
	if n, err := strconv.Atoi(a.first("count")); err == nil && n > 0 {
		end = min(start+n, len(all))
	}
	out := make([]userOut, 0, end-start)
	for _, u := range all[start:end] {
		out = append(out, userWire(u))
	}
	return out, nil
}

func userWire(u *User) userOut {
	return userOut{
		ID: u.ID, UserName: u.UserName, IsVisitor: u.IsVisitor, FirstName: u.FirstName,
		LastName: u.LastName, Email: u.Email, Status: u.Status, ActivationStatus: u.ActivationStatus,
		Title: u.Title, IsAdmin: u.IsAdmin, IsOwner: u.IsOwner, DisplayName: u.DisplayName(),
		AvatarSmall: "/skins/default/images/default_user_photo_size_32-32.png",
		ProfileURL:  "/Products/People/Profile.aspx?user=" + url.QueryEscape(u.UserName),
	}
}

func isCRMAdmin(u *User) bool { return u.IsAdmin || u.IsOwner || u.CRMAdmin }

func inACL(c *Contact, u *User) bool {
	for _, a := range c.ACL {
		if a == u.ID {
			return true
		}
	}
	return false
}

func canRead(c *Contact, u *User) bool {
	return c.ShareType == 1 || c.ShareType == 2 || isCRMAdmin(u) || inACL(c, u)
}

func canEdit(shareType int, c *Contact, u *User) bool {
	return shareType == 1 || isCRMAdmin(u) || inACL(c, u)
}

// employee is EmployeeWraper.Get(guid): an unknown or removed user is the LostUser.
func (s *Server) employee(id string) employeeOut {
	if u := s.users[id]; u != nil {
		return employeeOut{ID: u.ID, DisplayName: u.DisplayName(), Title: u.Title,
			AvatarSmall: "/skins/default/images/default_user_photo_size_32-32.png",
			ProfileURL:  "/Products/People/Profile.aspx?user=" + url.QueryEscape(u.UserName)}
	}
	return employeeOut{ID: LostUserID, DisplayName: "Unknown Unknown",
		AvatarSmall: "/skins/default/images/default_user_photo_size_32-32.png",
		ProfileURL:  "/Products/People/Profile.aspx?user=lost"}
}

// contactWire builds ContactWrapper with the given share type (the PUT quirk passes the old
// one) and the current ACL. Called with s.mu held.
func (s *Server) contactWire(c *Contact, shareType int, caller *User) contactOut {
	edit := canEdit(shareType, c, caller)
	out := contactOut{
		ID: c.ID, DisplayName: c.DisplayName(), IsCompany: c.IsCompany,
		IsPrivate: shareType == 0, IsShared: shareType == 1 || shareType == 2, ShareType: shareType,
		CanEdit: edit, CanDelete: edit,
		SmallFotoURL:  "/skins/default/images/empty_people_logo_40_40.png",
		MediumFotoURL: "/skins/default/images/empty_people_logo_82_82.png",
		Created:       c.Created.UTC().Format(apiDateLayout),
		CommonData:    []any{}, CustomFields: []any{}, Tags: []string{},
	}
	if shareType == 0 {
		list := make([]employeeOut, 0, len(c.ACL))
		for _, a := range c.ACL {
			list = append(list, s.employee(a))
		}
		out.AccessList = &list
	}
	if c.IsCompany {
		out.CompanyName = c.CompanyName
		n := 0
		out.PersonsCount = &n
	} else {
		out.FirstName, out.LastName = c.FirstName, c.LastName
	}
	return out
}

func (s *Server) getContact(caller *User, id int64) (any, *apiError) {
	if id <= 0 {
		return nil, badRequest("Value does not fall within the expected range.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.contacts[id]
	if c == nil || !canRead(c, caller) {
		return nil, notFound("Not found")
	}
	return s.contactWire(c, c.ShareType, caller), nil
}

func (s *Server) getAccess(caller *User, id int64) (any, *apiError) {
	if id <= 0 {
		return nil, badRequest("Value does not fall within the expected range.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.contacts[id]
	if c == nil {
		return nil, notFound("Not found")
	}
	if !canRead(c, caller) {
		return nil, accessDenied()
	}
	list := []employeeOut{}
	if c.ShareType == 0 {
		for _, a := range c.ACL {
			list = append(list, s.employee(a))
		}
	}
	return list, nil
}

// setAccessLocked is SetAccessToContact for one id. Called with s.mu held.
func (s *Server) setAccessLocked(caller *User, id int64, isShared bool, managers []string) (*contactOut, *apiError) {
	if id <= 0 {
		return nil, badRequest("Value does not fall within the expected range.\r\nParameter name: contactid")
	}
	c := s.contacts[id]
	if c == nil {
		return nil, notFound("Not found")
	}
	if !canEdit(c.ShareType, c, caller) {
		return nil, accessDenied()
	}
	old := c.ShareType
	acl, _ := normalizeACL(managers) // already parsed
	c.ACL = acl                      // empty list: MakePublic removes every entry
	if isShared {
		c.ShareType = 1
	} else {
		c.ShareType = 0
	}
	out := s.contactWire(c, old, caller)
	return &out, nil
}

func (s *Server) putAccess(caller *User, r *http.Request, rt route) (any, *apiError) {
	a, aerr := readArgs(r)
	if aerr != nil {
		return nil, aerr
	}
	shared, aerr := a.boolean("isshared")
	if aerr != nil {
		return nil, aerr
	}
	mgrs, aerr := a.guids("managerlist")
	if aerr != nil {
		return nil, aerr
	}
	if rt.id < 0 {
		return nil, badRequest("Value was either too large or too small for an Int32.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out, aerr := s.setAccessLocked(caller, rt.id, shared, mgrs)
	if aerr != nil {
		return nil, aerr
	}
	return out, nil
}

func (s *Server) putBatch(caller *User, r *http.Request) (any, *apiError) {
	a, aerr := readArgs(r)
	if aerr != nil {
		return nil, aerr
	}
	vals, present := a["contactid"]
	if !present {
		return nil, badRequest("Value cannot be null.\r\nParameter name: contactid")
	}
	ids := make([]int64, 0, len(vals))
	for _, v := range vals {
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 32)
		if err != nil {
			return nil, badRequest("Input string was not in a correct format.")
		}
		ids = append(ids, n)
	}
	shared, aerr := a.boolean("isshared")
	if aerr != nil {
		return nil, aerr
	}
	mgrs, aerr := a.guids("managerlist")
	if aerr != nil {
		return nil, aerr
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]contactOut, 0, len(ids))
	for _, id := range ids {
		c, aerr := s.setAccessLocked(caller, id, shared, mgrs)
		if aerr != nil {
			return nil, aerr // earlier contacts stay changed: no transaction
		}
		out = append(out, *c)
	}
	return out, nil
}

// args are the request parameters (query, form or JSON body), names lowercased.
type args map[string][]string

func (a args) first(name string) string {
	if v := a[name]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// boolean binds a bool: missing is false, anything but true/false is a 400.
func (a args) boolean(name string) (bool, *apiError) {
	v, ok := a[name]
	if !ok || len(v) == 0 {
		return false, nil
	}
	switch strings.ToLower(strings.TrimSpace(v[0])) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, badRequest("String was not recognized as a valid Boolean.")
}

// guids binds a Guid collection: missing is empty, a malformed GUID is a 400.
func (a args) guids(name string) ([]string, *apiError) {
	out := []string{}
	for _, v := range a[name] {
		g, ok := parseGUID(v)
		if !ok {
			return nil, badRequest("Guid should contain 32 digits with 4 dashes (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx).")
		}
		out = append(out, g)
	}
	return out, nil
}

const maxRequestBody = 1 << 20

// readArgs merges the query string and a JSON or form body, like ApiArgumentBuilder.
func readArgs(r *http.Request) (args, *apiError) {
	a := args{}
	add := func(k string, v ...string) {
		k = strings.ToLower(strings.TrimSuffix(k, "[]"))
		a[k] = append(a[k], v...)
	}
	for k, v := range r.URL.Query() {
		add(k, v...)
	}
	if r.Body == nil {
		return a, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRequestBody+1))
	if err != nil || len(body) > maxRequestBody {
		return nil, badRequest("Unable to read the request body")
	}
	ct := strings.ToLower(r.Header.Get("Content-Type"))
	switch {
	case strings.Contains(ct, "application/json"):
		if len(bytes.TrimSpace(body)) == 0 {
			return a, nil
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		var m map[string]any
		if err := dec.Decode(&m); err != nil || dec.More() {
			return nil, badRequest("Unable to deserialize json")
		}
		for k, v := range m {
			vals, ok := flatten(v)
			if !ok {
				return nil, badRequest("Unable to deserialize json")
			}
			switch {
			case vals != nil:
				add(k, vals...)
			case v != nil: // [] binds as an empty collection; null as missing
				k = strings.ToLower(strings.TrimSuffix(k, "[]"))
				if a[k] == nil {
					a[k] = []string{}
				}
			}
		}
	case strings.Contains(ct, "application/x-www-form-urlencoded"):
		q, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, badRequest("Unable to parse the form")
		}
		for k, v := range q {
			add(k, v...)
		}
	}
	return a, nil
}

// flatten turns a JSON value into the string values of a NameValueCollection.
func flatten(v any) ([]string, bool) {
	switch t := v.(type) {
	case nil:
		return nil, true
	case string:
		return []string{t}, true
	case json.Number:
		return []string{t.String()}, true
	case bool:
		return []string{strconv.FormatBool(t)}, true
	case []any:
		out := []string{}
		for _, e := range t {
			s, ok := flatten(e)
			if !ok {
				return nil, false
			}
			out = append(out, s...)
		}
		return out, true
	case map[string]any:
		// A nested object binds to no simple parameter; the conversion fails.
		b, _ := json.Marshal(t)
		return []string{string(b)}, true
	}
	return nil, false
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "onlyofficefake: cannot encode the answer", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Access-Control-Allow-Origin", "*")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeOK(w http.ResponseWriter, status int, payload any) {
	env := envelopeOut{Status: 0, StatusCode: status, Response: payload}
	if payload == nil {
		env.Response = struct{}{}
	}
	switch p := payload.(type) {
	case []employeeOut:
		env.Count = len(p)
	case []contactOut:
		env.Count = len(p)
	default:
		env.Count = 1
	}
	writeJSON(w, status, env)
}

func writeError(w http.ResponseWriter, status int, msg string, hresult int) {
	writeJSON(w, status, envelopeOut{Status: 1, StatusCode: status, Error: &errorOut{Message: msg, HResult: hresult}})
}

func writeUnauthorized(w http.ResponseWriter, hadAuth bool, host string) {
	if hadAuth {
		w.Header().Set("WWW-Authenticate", `Basic Realm="`+host+`"`)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusUnauthorized)
	_, _ = w.Write([]byte("Unauthorized"))
}

func writeHTML(w http.ResponseWriter, status int, page string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(page))
}

const notFoundPage = `<!DOCTYPE html>
<html>
<head>
<meta http-equiv="Content-Type" content="text/html; charset=utf-8" />
<title>ONLYOFFICE&trade; - Page not found</title>
</head>
<body class="error-page">
<div class="container"><div class="header">404</div><div class="message">The page you are looking for could not be found</div>
<a href="/">Go to the home page</a></div>
</body>
</html>
`
