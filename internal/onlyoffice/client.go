// Package onlyoffice is the client of the ONLYOFFICE Workspace (Community Server) API 2.0 for
// CRM contact sharing, people lookup and authentication. Controllers call its methods; they
// never build URLs or parse JSON.
//
// Every call goes through apiclient.Transport (rate limiter, timeout, size-limited read,
// metrics with provider "onlyoffice"). The client does not retry, with one exception: a 401
// with a token it got by logging in makes it log in again once and repeat the call once.
// Errors say whether a retry may help (IsRetryable) and how long to wait (RetryAfter); the
// reconcile queue retries.
package onlyoffice

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"

	"github.com/contactsync/contactsync/internal/apiclient"
)

// Provider is the metrics label of every ONLYOFFICE call.
const Provider = "onlyoffice"

// DefaultLoginCooldown is how long the client refuses to log in again after a failed login.
// The portal locks a login for 60 s after more than 5 failures in 60 s; one attempt a minute
// never gets there.
const DefaultLoginCooldown = 60 * time.Second

// maxRenewMargin caps how long before expiry a token is renewed (10 % of its lifetime, at most
// this).
const maxRenewMargin = 5 * time.Minute

// unknownExpiryTTL is how long a token is cached when the login answer has no readable
// expires (the default lifetime is a year; this is a safe guess).
const unknownExpiryTTL = time.Hour

// maxRetryAfter is the project's one cap on a server's Retry-After (apiclient.MaxRetryAfter).
const maxRetryAfter = apiclient.MaxRetryAfter

// RateWindow is the window ONLYOFFICE counts requests in: "up to 500 requests per 10 s per IP
// per account", then 503 with Retry-After [DOC api.onlyoffice.com/portals/basic; the
// self-hosted server has no such limit, so this is the SaaS front end's]. NewLimiter paces a
// client to RequestsPerSecond × RateWindow per window.
const RateWindow = 10 * time.Second

// DefaultBurst is the burst of an ONLYOFFICE limiter when the ProviderConfig sets none: a
// reconcile's read, write and verify read. A larger burst could overrun a window of the server
// shorter than RateWindow; the sliding window bounds every RateWindow whatever the burst.
const DefaultBurst = 3

// rateWindowMargin widens the client's window so that the spread of network latency cannot
// put one request too many into one of the server's windows.
const rateWindowMargin = 100 * time.Millisecond

// NewLimiter returns the limiter of one portal: rps requests per second with the given burst
// (DefaultBurst when unset), and never more than rps × RateWindow requests in any RateWindow,
// so a portal that counts requests in fixed windows never sees one too many in one of them.
func NewLimiter(rps float64, burst int) *apiclient.Limiter {
	lim := apiclient.NewLimiter(rps, burst)
	if rps > 0 {
		lim.SetWindow(int(rps*RateWindow.Seconds()), RateWindow, rateWindowMargin)
	}
	return lim
}

// Config configures a Client.
type Config struct {
	BaseURL            string // portal root, e.g. https://portal.example.com ; client appends /api/2.0/...
	UserName, Password string // login credentials, or:
	Token              string // a configured static token, used as is (no login)
	RequestsPerSecond  float64
	Burst              int
	Timeout            time.Duration    // per call; apiclient.DefaultTimeout when zero
	HTTPClient         *http.Client     // copied; redirects are never followed
	Logger             logr.Logger      // V(1) per-request lines; never password or token
	Now                func() time.Time // injectable clock for token expiry (default time.Now)

	// LoginCooldown overrides DefaultLoginCooldown (tests).
	LoginCooldown time.Duration
	// Limiter optionally shares one limiter between clients of a portal; it overrides
	// RequestsPerSecond/Burst.
	Limiter *apiclient.Limiter
	// MaxBody overrides apiclient.DefaultMaxBody.
	MaxBody int64
}

// API is what controllers use; *Client implements it, tests may fake it.
type API interface {
	Self(ctx context.Context) (*User, error)
	UserByEmail(ctx context.Context, email string) (*User, error)
	UserByID(ctx context.Context, id string) (*User, error)
	ListUsers(ctx context.Context, status int) ([]User, error)
	GetContact(ctx context.Context, id int64) (*Contact, error)
	GetContactAccess(ctx context.Context, id int64) ([]Manager, error)
	SetContactAccess(ctx context.Context, id int64, isShared bool, managers []string) error
	SetContactsAccess(ctx context.Context, ids []int64, isShared bool, managers []string) error
}

var _ API = (*Client)(nil)

// Client talks to one portal as one account. It is safe for concurrent use.
type Client struct {
	base      string
	userName  string
	password  string
	static    string
	transport *apiclient.Transport
	limiter   *apiclient.Limiter
	log       logr.Logger
	now       func() time.Time
	cooldown  time.Duration
	redactor  *apiclient.Redactor

	loginSem chan struct{} // one login at a time

	mu       sync.Mutex
	token    string
	renewAt  time.Time
	failedAt time.Time // last failed login; zero when the last login succeeded
	failure  error     // that failure
}

// New validates cfg and returns a client. It does not contact the portal; call Self to verify
// the credentials.
func New(cfg Config) (*Client, error) {
	u, err := url.Parse(strings.TrimSpace(cfg.BaseURL))
	if err != nil {
		return nil, errors.New("cannot create ONLYOFFICE client: base URL is not a valid URL")
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("cannot create ONLYOFFICE client: base URL must be an absolute http(s) URL without credentials, query or fragment")
	}
	u.Path = strings.TrimRight(u.Path, "/")
	if strings.HasSuffix(u.Path, "/api/2.0") {
		return nil, errors.New("cannot create ONLYOFFICE client: base URL must be the portal root, without /api/2.0")
	}
	static := strings.TrimSpace(cfg.Token)
	user := strings.TrimSpace(cfg.UserName)
	switch {
	case static != "" && (user != "" || cfg.Password != ""):
		return nil, errors.New("cannot create ONLYOFFICE client: configure either a token or a user name and password, not both")
	case static == "" && (user == "" || cfg.Password == ""):
		return nil, errors.New("cannot create ONLYOFFICE client: a token, or a user name and a password, are required")
	}
	for _, r := range static {
		if r <= ' ' || r == 0x7f {
			return nil, errors.New("cannot create ONLYOFFICE client: token contains whitespace or control characters")
		}
	}
	hc := &http.Client{}
	if cfg.HTTPClient != nil {
		c := *cfg.HTTPClient
		hc = &c
	}
	// A redirect (to a login page, another host) is answered as an error, never followed with
	// the token.
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	lim := cfg.Limiter
	if lim == nil {
		lim = NewLimiter(cfg.RequestsPerSecond, cfg.Burst)
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	cool := cfg.LoginCooldown
	if cool <= 0 {
		cool = DefaultLoginCooldown
	}
	red := &apiclient.Redactor{}
	red.Add(cfg.Password, static)
	return &Client{
		base:     u.String(),
		userName: user,
		password: cfg.Password,
		static:   static,
		limiter:  lim,
		transport: &apiclient.Transport{
			Provider: Provider,
			HTTP:     hc,
			Limiter:  lim,
			Timeout:  cfg.Timeout,
			MaxBody:  cfg.MaxBody,
			Redactor: red,
			// The login answer carries the new token the client needs (it is not yet known to
			// the redactor, so nothing would be lost; listed to make the exception explicit).
			KeepSecrets: map[string]bool{"login": true},
		},
		log:      cfg.Logger,
		now:      now,
		cooldown: cool,
		redactor: red,
		loginSem: make(chan struct{}, 1),
	}, nil
}

// Limiter returns the client's rate limiter.
func (c *Client) Limiter() *apiclient.Limiter { return c.limiter }

// operation names a call: label for metrics and logs, desc for error messages.
type operation struct{ label, desc string }

// Self returns the account's own user (GET /api/2.0/people/@self). It verifies the
// credentials: with login credentials it logs in first.
func (c *Client) Self(ctx context.Context) (*User, error) {
	op := operation{"get_self", "get current user"}
	raw, err := c.call(ctx, op, http.MethodGet, "/api/2.0/people/@self", nil, nil)
	if err != nil {
		return nil, err
	}
	u, err := decodeUser(raw)
	if err != nil {
		return nil, decodeFailed(op, http.StatusOK, err)
	}
	return u, nil
}

// UserByEmail looks a user up by email, case-insensitively (GET /api/2.0/people/email).
// An unknown email is an *Error with IsNotFound.
func (c *Client) UserByEmail(ctx context.Context, email string) (*User, error) {
	op := operation{"get_user_by_email", "get user by email"}
	email = strings.TrimSpace(email)
	if email == "" || strings.ContainsAny(email, " \t\r\n") || !strings.Contains(email, "@") {
		return nil, &Error{Op: op.desc, Kind: KindInvalidArgument, Message: "not an email address"}
	}
	raw, err := c.call(ctx, op, http.MethodGet, "/api/2.0/people/email", url.Values{"email": {email}}, nil)
	if err != nil {
		return nil, err
	}
	u, err := decodeUser(raw)
	if err != nil {
		return nil, decodeFailed(op, http.StatusOK, err)
	}
	if !strings.EqualFold(strings.TrimSpace(u.Email), email) && u.Email != "" {
		return nil, decodeFailed(op, http.StatusOK, errors.New("the portal answered a user with another email"))
	}
	return u, nil
}

// UserByID looks a user up by GUID (GET /api/2.0/people/{id}, which CommunityServer resolves
// by user name first, then by GUID). An unknown id is an *Error with IsNotFound; an answer
// for another user (a user name that looks like a GUID) is refused.
func (c *Client) UserByID(ctx context.Context, id string) (*User, error) {
	op := operation{"get_user_by_id", "get user by id"}
	id = strings.ToLower(strings.TrimSpace(id))
	if !guidPattern.MatchString(id) {
		return nil, &Error{Op: op.desc, Kind: KindInvalidArgument, Message: "not a user id (GUID)"}
	}
	raw, err := c.call(ctx, op, http.MethodGet, "/api/2.0/people/"+url.PathEscape(id), nil, nil)
	if err != nil {
		return nil, err
	}
	u, err := decodeUser(raw)
	if err != nil {
		return nil, decodeFailed(op, http.StatusOK, err)
	}
	if !strings.EqualFold(u.ID, id) {
		return nil, decodeFailed(op, http.StatusOK, errors.New("the portal answered another user"))
	}
	return u, nil
}

// usersPage is the page size of ListUsers.
const usersPage = 100

// ListUsers lists the portal's users of one status (UserStatusActive, UserStatusTerminated)
// with GET /api/2.0/people/status/{status} [DOC, api.onlyoffice.com: "Get profiles by status"],
// a page of count users from startIndex at a time until a short page: the API's paging
// parameters are applied by the portal's API framework to every list answer, whatever its
// default page size. Visitors are included (User.IsVisitor). The kubectl plugin's catalogue
// uses it; the controller never lists users (it resolves each manager by e-mail or id).
func (c *Client) ListUsers(ctx context.Context, status int) ([]User, error) {
	op := operation{"list_users", "list users by status"}
	if status != UserStatusActive && status != UserStatusTerminated {
		return nil, &Error{Op: op.desc, Kind: KindInvalidArgument, Message: "status must be 1 (active) or 2 (terminated)"}
	}
	var out []User
	for start := 0; ; start += usersPage {
		q := url.Values{"count": {strconv.Itoa(usersPage)}, "startIndex": {strconv.Itoa(start)}}
		raw, err := c.call(ctx, op, http.MethodGet, "/api/2.0/people/status/"+strconv.Itoa(status), q, nil)
		if err != nil {
			return nil, err
		}
		page, err := decodeUsers(raw)
		if err != nil {
			return nil, decodeFailed(op, http.StatusOK, err)
		}
		out = append(out, page...)
		if len(page) < usersPage || start > 100000 {
			return out, nil
		}
	}
}

var guidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// GetContact reads a contact (GET /api/2.0/crm/contact/{id}). A contact that does not exist or
// that the account cannot read is an *Error with IsNotFound.
func (c *Client) GetContact(ctx context.Context, id int64) (*Contact, error) {
	op := operation{"get_contact", "get contact " + strconv.FormatInt(id, 10)}
	if id <= 0 {
		return nil, &Error{Op: op.desc, Kind: KindInvalidArgument, Message: "contact id must be positive"}
	}
	raw, err := c.call(ctx, op, http.MethodGet, contactPath(id), nil, nil)
	if err != nil {
		return nil, err
	}
	ct, err := decodeContact(raw)
	if err != nil {
		return nil, decodeFailed(op, http.StatusOK, err)
	}
	if ct.ID != id {
		return nil, decodeFailed(op, http.StatusOK, fmt.Errorf("the portal answered contact %d", ct.ID))
	}
	return ct, nil
}

// GetContactAccess reads a contact's managers (GET /api/2.0/crm/contact/{id}/access). The
// portal fills the list only for private contacts (shareType 0); for shared ones it is empty
// even when ACL entries exist. Unknown users come back as LostUserID. The result is never nil
// on success. No read access is an *Error with IsForbidden (not IsNotFound, unlike GetContact).
func (c *Client) GetContactAccess(ctx context.Context, id int64) ([]Manager, error) {
	op := operation{"get_contact_access", "get access of contact " + strconv.FormatInt(id, 10)}
	if id <= 0 {
		return nil, &Error{Op: op.desc, Kind: KindInvalidArgument, Message: "contact id must be positive"}
	}
	raw, err := c.call(ctx, op, http.MethodGet, contactPath(id)+"/access", nil, nil)
	if err != nil {
		return nil, err
	}
	ms, err := decodeManagers(raw)
	if err != nil {
		return nil, decodeFailed(op, http.StatusOK, err)
	}
	return ms, nil
}

type accessBody struct {
	ContactIDs  []int64  `json:"contactid,omitempty"`
	IsShared    bool     `json:"isShared"`
	ManagerList []string `json:"managerList"`
}

// SetContactAccess sets a contact's sharing (PUT /api/2.0/crm/contact/{id}/access). Both fields
// are always sent: isShared true stores shareType 1 (read/write), false stores 0 (private); an
// empty managers list clears the ACL. The answer's sharing fields show the state before the
// update, so they are ignored: read the contact back to verify.
func (c *Client) SetContactAccess(ctx context.Context, id int64, isShared bool, managers []string) error {
	op := operation{"set_contact_access", "set access of contact " + strconv.FormatInt(id, 10)}
	if id <= 0 {
		return &Error{Op: op.desc, Kind: KindInvalidArgument, Message: "contact id must be positive"}
	}
	list, err := managerList(op, managers)
	if err != nil {
		return err
	}
	_, err = c.call(ctx, op, http.MethodPut, contactPath(id)+"/access", nil, accessBody{IsShared: isShared, ManagerList: list})
	return err
}

// SetContactsAccess sets the same sharing on several contacts in one call
// (PUT /api/2.0/crm/contact/access). The portal applies the single-contact logic to each id in
// order and aborts at the first failure; contacts before it stay changed.
//
// Every failure is a *BatchError (wrapping the *Error, so IsNotFound etc. still answer). The
// error answer does not say which id failed, so for a 404 or 403 the client reads the contacts
// back in order (GET contact, one call each, stopping at the first hit) and takes the first one
// that is missing or unreadable (404) — or, for a 403, one the account cannot edit — as the
// failing id. Assumption: nothing changed those contacts between the two calls. For a 400 it
// takes the first non-positive id, if any (a non-positive id is the per-contact 400; other 400s
// are request errors that change nothing). When no id fits, or a read-back fails, Index is -1.
func (c *Client) SetContactsAccess(ctx context.Context, ids []int64, isShared bool, managers []string) error {
	op := operation{"set_contacts_access", fmt.Sprintf("set access of %d contacts", len(ids))}
	if len(ids) == 0 {
		return nil
	}
	ids = append([]int64(nil), ids...)
	list, err := managerList(op, managers)
	if err != nil {
		return &BatchError{IDs: ids, Index: -1, Err: err}
	}
	_, err = c.call(ctx, op, http.MethodPut, "/api/2.0/crm/contact/access", nil, accessBody{ContactIDs: ids, IsShared: isShared, ManagerList: list})
	if err == nil {
		return nil
	}
	return &BatchError{IDs: ids, Index: c.findFailed(ctx, ids, err), Err: err}
}

// findFailed works out which id made a bulk update fail (see SetContactsAccess).
func (c *Client) findFailed(ctx context.Context, ids []int64, err error) int {
	e := asError(err)
	if e == nil || e.Kind != KindAPI {
		return -1
	}
	switch e.HTTPStatus {
	case http.StatusBadRequest:
		for i, id := range ids {
			if id <= 0 {
				return i
			}
		}
		return -1
	case http.StatusNotFound, http.StatusForbidden:
	default:
		return -1
	}
	for i, id := range ids {
		if id <= 0 {
			return i // the server's 400 would have come first; defensive
		}
		ct, gerr := c.GetContact(ctx, id)
		switch {
		case IsNotFound(gerr):
			return i
		case gerr != nil:
			return -1
		case e.HTTPStatus == http.StatusForbidden && !ct.CanEdit:
			return i
		}
	}
	return -1
}

func managerList(op operation, managers []string) ([]string, error) {
	list := make([]string, 0, len(managers)) // never nil: JSON [] clears, null is not sent
	for _, m := range managers {
		m = strings.TrimSpace(m)
		if !isGUID(m) {
			return nil, &Error{Op: op.desc, Kind: KindInvalidArgument, Message: "manager id is not a GUID"}
		}
		list = append(list, strings.ToLower(m))
	}
	return list, nil
}

func contactPath(id int64) string { return "/api/2.0/crm/contact/" + strconv.FormatInt(id, 10) }

func decodeFailed(op operation, status int, err error) *Error {
	return &Error{Op: op.desc, Kind: KindDecode, HTTPStatus: status, Message: "unexpected response: " + cleanMessage(err.Error())}
}

// call sends one API request with authentication and returns the response payload of a
// successful envelope. A 401 with a logged-in token leads to one new login and one repeat.
func (c *Client) call(ctx context.Context, op operation, method, path string, query url.Values, in any) (json.RawMessage, error) {
	var body []byte
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("cannot %s: encoding the request: %w", op.desc, err)
		}
		body = b
	}
	stale := ""
	for attempt := 1; ; attempt++ {
		tok, err := c.authToken(ctx, stale)
		if err != nil {
			return nil, fmt.Errorf("cannot %s: %w", op.desc, err)
		}
		resp, err := c.send(ctx, op, method, path, query, body, tok, attempt)
		if err != nil {
			return nil, err
		}
		if resp.Status == http.StatusUnauthorized {
			if c.static == "" && attempt == 1 {
				stale = tok
				continue
			}
			e := decodeError(op.desc, resp.Status, resp.Header, resp.Body)
			e.Kind = KindAuth
			if c.static != "" {
				e.Message += ": the configured token was refused"
			} else {
				e.Message += ": the token was refused again after a new login"
			}
			return nil, c.redact(e)
		}
		return c.parse(op, resp)
	}
}

// send performs one HTTP request through the transport and logs it.
func (c *Client) send(ctx context.Context, op operation, method, path string, query url.Values, body []byte, tok string, attempt int) (resp *apiclient.Response, err error) {
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, fmt.Errorf("cannot %s: building the request failed", op.desc)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if tok != "" {
		req.Header.Set("Authorization", tok) // raw, as the docs show
	}
	start := time.Now()
	defer func() {
		status := 0
		if resp != nil {
			status = resp.Status
		}
		kv := []any{"operation", op.label, "method", method, "path", path, "status", status,
			"attempt", attempt, "duration", time.Since(start)}
		if err != nil {
			kv = append(kv, "error", err.Error())
		}
		c.log.V(1).Info("ONLYOFFICE request", kv...)
	}()
	resp, err = c.transport.Do(ctx, op.label, req)
	if err != nil {
		return nil, c.transportError(op, err)
	}
	return resp, nil
}

// parse turns a response into the payload of a successful envelope or an error.
func (c *Client) parse(op operation, resp *apiclient.Response) (json.RawMessage, error) {
	if resp.Status < 200 || resp.Status > 299 {
		e := decodeError(op.desc, resp.Status, resp.Header, resp.Body)
		c.handleSlowDown(e, resp.Header)
		return nil, c.redact(e)
	}
	env, err := decodeEnvelope(resp.Body)
	if err != nil {
		msg := describeBody(resp.Header, resp.Body)
		if !errors.Is(err, errNotJSON) {
			msg += ": " + err.Error()
		}
		return nil, c.redact(&Error{Op: op.desc, Kind: KindDecode, HTTPStatus: resp.Status, Message: "unexpected response: " + cleanMessage(msg)})
	}
	if env.Status != 0 || env.Error != nil {
		e := &Error{Op: op.desc, Kind: KindAPI, HTTPStatus: resp.Status}
		if env.StatusCode >= 400 && env.StatusCode <= 599 {
			e.HTTPStatus = env.StatusCode
		}
		if env.Error != nil {
			e.Message = cleanMessage(env.Error.Message)
			e.HResult = env.Error.HResult
		}
		if e.Message == "" {
			e.Message = "the envelope reports an error"
		}
		return nil, c.redact(e)
	}
	if isNull(env.Response) {
		return nil, &Error{Op: op.desc, Kind: KindDecode, HTTPStatus: resp.Status, Message: "unexpected response: the envelope has no response"}
	}
	return env.Response, nil
}

// handleSlowDown pauses the limiter for a 503 or 429 that says Retry-After.
func (c *Client) handleSlowDown(e *Error, h http.Header) {
	if e.HTTPStatus != http.StatusServiceUnavailable && e.HTTPStatus != http.StatusTooManyRequests {
		return
	}
	ra := apiclient.ParseRetryAfter(h.Get("Retry-After"), time.Now())
	if ra <= 0 {
		if e.HTTPStatus == http.StatusServiceUnavailable {
			return // a 503 without Retry-After (portal being transferred): a plain 5xx
		}
		ra = time.Second
	}
	if ra > maxRetryAfter {
		ra = maxRetryAfter
	}
	e.Kind = KindRateLimited
	e.RetryAfter = ra
	apiclient.RateLimitedTotal.WithLabelValues(Provider).Inc()
	c.limiter.PauseUntil(time.Now().Add(ra))
	// The portal counted one request too many in one of its windows: its window is shorter
	// than RateWindow or others share the budget. From now on the client sends no burst.
	c.limiter.NoBurst()
}

// redact removes the password and the token from anything the server echoed into an error.
func (c *Client) redact(e *Error) *Error {
	e.Message = c.redactor.String(e.Message)
	c.mu.Lock()
	tok := c.token
	c.mu.Unlock()
	if tok != "" {
		e.Message = strings.ReplaceAll(e.Message, tok, "[REDACTED]")
	}
	return e
}

// transportError rewords the transport's errors with the operation's description.
func (c *Client) transportError(op operation, err error) error {
	out := c.rewordTransportError(op, err)
	if errors.Is(err, apiclient.ErrNotSent) {
		return apiclient.NotSent(out)
	}
	return out
}

func (c *Client) rewordTransportError(op operation, err error) error {
	var ne *apiclient.NetError
	if errors.As(err, &ne) {
		return &apiclient.NetError{Op: op.desc, Err: ne.Err}
	}
	switch {
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("cannot %s: %w", op.desc, context.Canceled)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("cannot %s: %w", op.desc, context.DeadlineExceeded)
	}
	return fmt.Errorf("cannot %s: %w", op.desc, err)
}
