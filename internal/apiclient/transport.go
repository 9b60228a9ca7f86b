package apiclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"sync/atomic"
	"time"
)

// DefaultMaxBody is the largest response body read from a provider (4 MiB). A larger body is
// an error, never a truncated parse.
const DefaultMaxBody = 4 << 20

// DefaultTimeout bounds one HTTP call, body read included.
const DefaultTimeout = 30 * time.Second

// ErrBodyTooLarge is returned when a response body exceeds the transport's MaxBody.
var ErrBodyTooLarge = errors.New("response body exceeds the size limit")

// ErrNotSent marks an error that arose before the request was completely written to the
// connection (the limiter wait ended, the connection was refused, the context ended while
// dialing): the provider cannot have acted on it, so even a non-idempotent create is safe to
// send again. Test with errors.Is.
var ErrNotSent = errors.New("the request was not sent")

// NotSent marks err as arising before the request was sent (see ErrNotSent).
func NotSent(err error) error { return notSentError{err} }

type notSentError struct{ err error }

func (e notSentError) Error() string        { return e.err.Error() }
func (e notSentError) Unwrap() []error      { return []error{e.err, ErrNotSent} }
func (e notSentError) Is(target error) bool { return target == ErrNotSent }

// Transport sends requests for one account: it waits in the limiter, bounds the call with a
// timeout, reads the body with a size limit and counts the call in the metrics. It does not
// retry; retry policy belongs to the caller (the reconcile queue).
type Transport struct {
	Provider string        // metric label: "hostup" or "onlyoffice"
	HTTP     *http.Client  // defaults to a client with no overall timeout (Timeout is used)
	Limiter  *Limiter      // may be nil: no client-side pacing
	Timeout  time.Duration // per call; DefaultTimeout when zero
	MaxBody  int64         // DefaultMaxBody when zero
	// Redactor, if set, removes known secrets from every response body as soon as it is read,
	// except for the operations in KeepSecrets (whose answers carry a secret the client needs,
	// e.g. a login answer).
	Redactor    *Redactor
	KeepSecrets map[string]bool
}

// Response is a fully read HTTP response.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Do sends req (its context is replaced by ctx with the timeout) as operation op.
// Errors never contain request headers or query strings, so credentials cannot leak through them.
func (t *Transport) Do(ctx context.Context, op string, req *http.Request) (*Response, error) {
	if t.Limiter != nil {
		start := time.Now()
		if err := t.Limiter.Wait(ctx); err != nil {
			if we := AsWait(err); we != nil {
				reason := "paced"
				if we.Paused {
					reason = "paused"
				}
				DeferredTotal.WithLabelValues(t.Provider, reason).Inc()
			}
			return nil, NotSent(fmt.Errorf("cannot %s: waiting for the rate limiter: %w", op, err))
		}
		LimiterWaitSeconds.WithLabelValues(t.Provider).Observe(time.Since(start).Seconds())
	}
	timeout := t.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// wrote records whether the whole request reached the connection: a failure before that
	// (refused, DNS, TLS, a context that ended while dialing) is certainly not acted on.
	var wrote atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{WroteRequest: func(i httptrace.WroteRequestInfo) {
		if i.Err == nil {
			wrote.Store(true)
		}
	}})
	req = req.WithContext(ctx)

	hc := t.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	start := time.Now()
	resp, err := hc.Do(req)
	if err != nil {
		t.observe(op, "error", start)
		ne := &NetError{Op: op, Err: stripURL(err)}
		if !wrote.Load() {
			return nil, NotSent(ne)
		}
		return nil, ne
	}
	defer func() { _ = resp.Body.Close() }()
	limit := t.MaxBody
	if limit <= 0 {
		limit = DefaultMaxBody
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	code := strconv.Itoa(resp.StatusCode)
	t.observe(op, code, start)
	if err != nil {
		return nil, &NetError{Op: op, Err: fmt.Errorf("reading the response body (HTTP %d): %w", resp.StatusCode, stripURL(err))}
	}
	if int64(len(body)) > limit {
		return nil, &NetError{Op: op, Err: fmt.Errorf("HTTP %d: %w (%d bytes)", resp.StatusCode, ErrBodyTooLarge, limit)}
	}
	if !t.KeepSecrets[op] || resp.StatusCode < 200 || resp.StatusCode > 299 {
		body = t.Redactor.Bytes(body)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: body}, nil
}

func (t *Transport) observe(op, code string, start time.Time) {
	RequestsTotal.WithLabelValues(t.Provider, op, code).Inc()
	RequestDuration.WithLabelValues(t.Provider, op).Observe(time.Since(start).Seconds())
}

// NetError is a call that produced no usable response: connection refused or dropped,
// timeout, truncated or oversized body. It is always worth retrying later.
type NetError struct {
	Op  string
	Err error
}

func (e *NetError) Error() string { return fmt.Sprintf("cannot %s: %v", e.Op, e.Err) }
func (e *NetError) Unwrap() error { return e.Err }

// stripURL removes the URL (with its query string) that net/http puts into its errors.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s request failed: %w", ue.Op, ue.Err)
	}
	return err
}

// MaxRetryAfter caps what a server may ask us to wait, so an absurd header cannot stop an
// account for days (or overflow a Duration).
const MaxRetryAfter = time.Hour

// ParseRetryAfter reads a Retry-After header (seconds or an HTTP date) relative to now, capped
// at MaxRetryAfter. It returns zero when the header is absent or unreadable.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil && s >= 0 {
		if s >= MaxRetryAfter.Seconds() {
			return MaxRetryAfter
		}
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return min(d, MaxRetryAfter)
		}
	}
	return 0
}
