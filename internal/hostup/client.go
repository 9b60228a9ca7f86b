// Package hostup is the client of the HostUp v1 API for contacts, contact permissions and
// delegated access. Controllers call its methods; they never build URLs or parse JSON.
//
// Every call goes through apiclient.Transport (rate limiter, timeout, size-limited read,
// metrics with provider "hostup"). The client does not retry: errors say whether a retry may
// help (IsRetryable) and how long to wait (RetryAfter); the reconcile queue retries.
package hostup

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-logr/logr"

	"github.com/contactsync/contactsync/internal/apiclient"
)

// Provider is the metrics label of every HostUp call.
const Provider = "hostup"

// DefaultBaseURL is HostUp's v1 API root.
const DefaultBaseURL = "https://cloud.hostup.se/api"

// AuthScheme selects the header that carries the API key.
type AuthScheme string

const (
	// AuthAPIKey sends X-API-Key: <key>, the form every v1 doc sample shows (the default).
	AuthAPIKey AuthScheme = "X-API-Key"
	// AuthBearer sends Authorization: Bearer <key>.
	AuthBearer AuthScheme = "Bearer"
)

// Config configures a Client.
type Config struct {
	BaseURL           string // DefaultBaseURL when empty; paths are relative to it, e.g. BaseURL+"/teams"
	APIKey            string
	AuthScheme        AuthScheme // AuthAPIKey when empty; "APIKeyHeader" (the CRD value) is accepted too
	RequestsPerSecond float64    // client-side limiter; <= 0 is unlimited
	Burst             int
	Timeout           time.Duration      // per call; apiclient.DefaultTimeout when zero
	HTTPClient        *http.Client       // copied; redirects are never followed (they could carry the key elsewhere)
	Logger            logr.Logger        // V(1): one line per request, never the key
	Limiter           *apiclient.Limiter // optional: share one limiter between clients of an account; overrides RequestsPerSecond/Burst
	MaxBody           int64              // apiclient.DefaultMaxBody when zero
}

// API is what controllers use; *Client implements it, tests may fake it.
type API interface {
	SessionInfo(ctx context.Context) (*SessionInfo, error)
	CreateContact(ctx context.Context, c NewContact) (int64, error)
	DeleteContact(ctx context.Context, id int64) error
	GetPermissions(ctx context.Context, contactID int64) (*Permissions, error)
	SetPermissions(ctx context.Context, contactID int64, p *Permissions) error
	ListGrants(ctx context.Context) (byMe []Grant, toMe []Grant, err error)
	CreateGrant(ctx context.Context, email, label string) (*Invite, error)
	GetGrantPermissions(ctx context.Context, grantID string) (*GrantPermissions, error)
}

var _ API = (*Client)(nil)

// Client talks to one HostUp account. It is safe for concurrent use.
type Client struct {
	base      string
	key       string
	scheme    AuthScheme
	transport *apiclient.Transport
	limiter   *apiclient.Limiter
	log       logr.Logger
	now       func() time.Time
	// redactor knows every secret this client sent or received: the API key, the initial
	// passwords of contacts it created, the invite tokens it was given.
	redactor *apiclient.Redactor
}

// New validates cfg and returns a client.
func New(cfg Config) (*Client, error) {
	base := cfg.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	u, err := url.Parse(base)
	if err != nil {
		return nil, errors.New("cannot create HostUp client: base URL is not a valid URL")
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("cannot create HostUp client: base URL must be an absolute http(s) URL without credentials, query or fragment")
	}
	key := strings.TrimSpace(cfg.APIKey)
	if key == "" {
		return nil, errors.New("cannot create HostUp client: API key is empty")
	}
	for _, r := range key {
		if r <= ' ' || r == 0x7f {
			return nil, errors.New("cannot create HostUp client: API key contains whitespace or control characters")
		}
	}
	scheme := cfg.AuthScheme
	switch scheme {
	case "", AuthAPIKey, "APIKeyHeader":
		scheme = AuthAPIKey
	case AuthBearer:
	default:
		return nil, fmt.Errorf("cannot create HostUp client: unknown auth scheme %q", cfg.AuthScheme)
	}
	hc := &http.Client{}
	if cfg.HTTPClient != nil {
		c := *cfg.HTTPClient
		hc = &c
	}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	lim := cfg.Limiter
	if lim == nil {
		lim = apiclient.NewLimiter(cfg.RequestsPerSecond, cfg.Burst)
	}
	red := &apiclient.Redactor{}
	red.Add(key)
	return &Client{
		base:    strings.TrimRight(u.String(), "/"),
		key:     key,
		scheme:  scheme,
		limiter: lim,
		transport: &apiclient.Transport{
			Provider: Provider,
			HTTP:     hc,
			Limiter:  lim,
			Timeout:  cfg.Timeout,
			MaxBody:  cfg.MaxBody,
			Redactor: red,
			// A successful grant list carries the invite tokens of the account's grants as data
			// (the client hands them on, never into an error); error answers are still redacted.
			KeepSecrets: map[string]bool{opListGrants.label: true},
		},
		log:      cfg.Logger,
		now:      time.Now,
		redactor: red,
	}, nil
}

// Limiter returns the client's rate limiter.
func (c *Client) Limiter() *apiclient.Limiter { return c.limiter }

// operation names a call: label for metrics and logs, desc for error messages.
type operation struct{ label, desc string }

var (
	opSessionInfo         = operation{"session_info", "get session info"}
	opCreateContact       = operation{"create_contact", "create contact"}
	opDeleteContact       = operation{"delete_contact", "delete contact"}
	opGetPermissions      = operation{"get_permissions", "get contact permissions"}
	opSetPermissions      = operation{"set_permissions", "set contact permissions"}
	opListGrants          = operation{"list_grants", "list delegated access grants"}
	opCreateGrant         = operation{"create_grant", "create delegated access grant"}
	opGetGrantPermissions = operation{"get_grant_permissions", "get delegated access grant permissions"}
	opDeleteGrant         = operation{"delete_grant", "delete delegated access grant"}
)

// answer is what call learned besides the data.
type answer struct {
	status    int
	requestID string
}

// decodeFailed wraps a decoder's error.
func (a answer) decodeFailed(op operation, err error) error {
	return &DecodeError{Op: op.desc, HTTPStatus: a.status, RequestID: a.requestID, Err: err}
}

// call sends one request and returns the data object of a successful v1 envelope. Any other
// outcome is an error: *apiclient.NetError, *Error or *DecodeError.
func (c *Client) call(ctx context.Context, op operation, method, path string, query url.Values, in any) (data json.RawMessage, meta answer, err error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, meta, apiclient.NotSent(fmt.Errorf("cannot %s: encoding the request: %w", op.desc, err))
		}
		body = bytes.NewReader(b)
	}
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, meta, apiclient.NotSent(fmt.Errorf("cannot %s: building the request failed", op.desc))
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.scheme == AuthBearer {
		req.Header.Set("Authorization", "Bearer "+c.key)
	} else {
		req.Header.Set("X-API-Key", c.key)
	}

	start := time.Now()
	defer func() {
		kv := []any{"operation", op.label, "method", method, "path", path, "status", meta.status,
			"requestId", meta.requestID, "duration", time.Since(start)}
		if err != nil {
			kv = append(kv, "error", err.Error())
		}
		c.log.V(1).Info("HostUp request", kv...)
	}()

	resp, err := c.transport.Do(ctx, op.label, req)
	if err != nil {
		return nil, meta, c.transportError(op, err)
	}
	meta.status = resp.Status
	now := c.now()
	c.learnBudget(resp.Header, now)

	if meta.status < 200 || meta.status > 299 {
		e := decodeError(op.desc, meta.status, resp.Header, resp.Body, now)
		meta.requestID = e.RequestID
		c.handleSlowDown(e, now)
		return nil, meta, c.redact(e)
	}
	data, meta.requestID, err = decodeEnvelope(resp.Body)
	if errors.Is(err, errEnvelopeFailure) {
		e := decodeError(op.desc, meta.status, resp.Header, resp.Body, now)
		return nil, meta, c.redact(e)
	}
	if err != nil {
		return nil, meta, meta.decodeFailed(op, err)
	}
	return data, meta, nil
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
	if ctxErr := ctxCause(err); ctxErr != nil {
		return fmt.Errorf("cannot %s: waiting for the rate limiter: %w", op.desc, ctxErr)
	}
	return fmt.Errorf("cannot %s: %w", op.desc, err)
}

func ctxCause(err error) error {
	switch {
	case errors.Is(err, context.Canceled):
		return context.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		return context.DeadlineExceeded
	}
	return nil
}

// learnBudget feeds X-RateLimit-Remaining/-Reset of any answer to the limiter.
func (c *Client) learnBudget(h http.Header, now time.Time) {
	if remaining, reset, ok := rateHeaders(h, now); ok {
		c.limiter.Budget(remaining, reset)
	}
}

// handleSlowDown pauses the limiter for a 429 (and a 503 that says Retry-After).
func (c *Client) handleSlowDown(e *Error, now time.Time) {
	if e.HTTPStatus == http.StatusTooManyRequests {
		apiclient.RateLimitedTotal.WithLabelValues(Provider).Inc()
		if e.RetryAfter <= 0 {
			e.RetryAfter = defaultRetryAfter
		}
	}
	if e.RetryAfter > 0 && (e.HTTPStatus == http.StatusTooManyRequests || e.HTTPStatus == http.StatusServiceUnavailable) {
		if e.HTTPStatus == http.StatusServiceUnavailable {
			apiclient.RateLimitedTotal.WithLabelValues(Provider).Inc()
		}
		c.limiter.PauseUntil(now.Add(e.RetryAfter))
	}
}

// redact removes known secrets from anything the server echoed into an error (the body was
// already redacted when it was read; this also covers headers such as X-Request-Id).
func (c *Client) redact(e *Error) *Error {
	r := c.redactor
	e.Code, e.Title, e.Message, e.RequestID = r.String(e.Code), r.String(e.Title), r.String(e.Message), r.String(e.RequestID)
	for i := range e.Fields {
		e.Fields[i].Detail = r.String(e.Fields[i].Detail)
		e.Fields[i].Pointer = r.String(e.Fields[i].Pointer)
	}
	return e
}

// rateHeaders reads X-RateLimit-Remaining and X-RateLimit-Reset (ISO timestamp; unix seconds
// and delta seconds are tolerated). The reset is capped at now+maxRetryAfter.
func rateHeaders(h http.Header, now time.Time) (remaining int, reset time.Time, ok bool) {
	rem, rst := h.Get("X-RateLimit-Remaining"), strings.TrimSpace(h.Get("X-RateLimit-Reset"))
	if rem == "" || rst == "" {
		return 0, time.Time{}, false
	}
	remaining, err := strconv.Atoi(strings.TrimSpace(rem))
	if err != nil || remaining < 0 {
		return 0, time.Time{}, false
	}
	if t, err := parseTime(rst); err == nil && t != nil {
		reset = *t
	} else if n, err := strconv.ParseInt(rst, 10, 64); err == nil && n >= 0 {
		if n > 1_000_000_000 {
			reset = time.Unix(n, 0)
		} else {
			reset = now.Add(time.Duration(min(n, int64(maxRetryAfter/time.Second))) * time.Second)
		}
	} else {
		return 0, time.Time{}, false
	}
	if reset.After(now.Add(maxRetryAfter)) {
		reset = now.Add(maxRetryAfter)
	}
	return remaining, reset, true
}
