package hostup

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/contactsync/contactsync/internal/apiclient"
)

// CodeAddContactFailed is the Error.Code of an HTTP 200 answer to POST /teams whose
// data.success is false (HostUp's upstream billing system refused the contact).
const CodeAddContactFailed = "ADD_CONTACT_FAILED"

// maxRetryAfter is the project's one cap on a server's Retry-After (apiclient.MaxRetryAfter).
const maxRetryAfter = apiclient.MaxRetryAfter

// maxFields caps the problem errors[] entries kept, so an error message stays readable.
const maxFields = 20

// defaultRetryAfter is used for a 429 that says neither Retry-After nor X-RateLimit-Reset.
const defaultRetryAfter = 5 * time.Second

// Error is an error answer of the HostUp API. It is decoded from the legacy v1 envelope
// {code,error,message,requestId,timestamp}, the v1 429 body {error,message,retryAfter,requestId},
// an RFC 7807 problem document {type,title,status,detail,code,instance,requestId,errors[]},
// or, when the body is HTML, plain text or empty, from the status alone.
type Error struct {
	Op         string        // what the client tried, e.g. "create contact"
	HTTPStatus int           // HTTP status (200 for a POST /teams with data.success false)
	Code       string        // "BAD_REQUEST" (legacy) or "invalid_request" (problem); may be empty
	Title      string        // legacy "error" or problem "title"; the status text when absent
	Message    string        // legacy "message" or problem "detail"
	RequestID  string        // HostUp's requestId, quote it to HostUp support
	RetryAfter time.Duration // how long the server asked us to wait (429, 503), zero if not said
	Problem    bool          // the body was an RFC 7807 problem document
	Fields     []FieldError  // problem errors[] (invalid_request)
}

// FieldError is one entry of a problem document's errors[].
type FieldError struct {
	Pointer, Detail, Code string
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "cannot %s: HTTP %d", e.Op, e.HTTPStatus)
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	msg := e.Message
	if msg == "" {
		msg = e.Title
	}
	if msg != "" {
		b.WriteString(": " + msg)
	}
	for _, f := range e.Fields {
		fmt.Fprintf(&b, "; %s: %s", f.Pointer, f.Detail)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	if e.RequestID != "" {
		fmt.Fprintf(&b, " (requestId %s)", e.RequestID)
	}
	return b.String()
}

// DecodeError is a successful HTTP status whose body could not be decoded (truncated, not
// JSON, a required field missing). Nothing from such a body is used. It is retryable.
type DecodeError struct {
	Op         string
	HTTPStatus int
	RequestID  string
	Err        error
}

func (e *DecodeError) Error() string {
	rid := ""
	if e.RequestID != "" {
		rid = " (requestId " + e.RequestID + ")"
	}
	return fmt.Sprintf("cannot %s: undecodable HTTP %d response%s: %v", e.Op, e.HTTPStatus, rid, e.Err)
}

func (e *DecodeError) Unwrap() error { return e.Err }

// IsNotFound reports whether err is a HostUp 404.
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.HTTPStatus == http.StatusNotFound
}

// IsAuth reports whether err is a HostUp 401 or 403 (bad key, IP restriction, missing scope).
func IsAuth(err error) bool {
	var e *Error
	return errors.As(err, &e) && (e.HTTPStatus == http.StatusUnauthorized || e.HTTPStatus == http.StatusForbidden)
}

// IsRetryable reports whether trying the same call later may succeed: network failures,
// undecodable bodies, 408, 429, 5xx and an upstream "Failed to add contact".
func IsRetryable(err error) bool {
	var ne *apiclient.NetError
	if errors.As(err, &ne) {
		return true
	}
	var de *DecodeError
	if errors.As(err, &de) {
		return true
	}
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	switch {
	case e.HTTPStatus >= 500, e.HTTPStatus == http.StatusTooManyRequests, e.HTTPStatus == http.StatusRequestTimeout:
		return true
	}
	return e.Code == CodeAddContactFailed
}

// RetryAfter returns how long the server asked to wait before the next call, zero if it did not.
func RetryAfter(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

// decodeError builds an *Error from any error answer. It never fails: a body that is not a
// JSON object is described, not parsed.
func decodeError(op string, status int, h http.Header, body []byte, now time.Time) *Error {
	e := &Error{Op: op, HTTPStatus: status}
	trimmed := bytes.TrimSpace(body)
	var raw map[string]json.RawMessage
	var bodyRetry time.Duration
	if len(trimmed) > 0 && trimmed[0] == '{' && json.Unmarshal(trimmed, &raw) == nil {
		str := func(k string) string { return rawString(raw[k]) }
		e.Code = str("code")
		e.RequestID = str("requestId")
		if isProblem(h.Get("Content-Type"), raw) {
			e.Problem = true
			e.Title = str("title")
			e.Message = str("detail")
			e.Fields = problemFields(raw["errors"])
		} else {
			e.Title = str("error")
			e.Message = str("message")
		}
		bodyRetry = parseSeconds(str("retryAfter"))
	} else if len(trimmed) > 0 {
		e.Message = describeNonJSON(h.Get("Content-Type"), trimmed)
	}
	if e.RequestID == "" {
		e.RequestID = sanitize(h.Get("X-Request-Id"), 100)
	}
	if e.Title == "" {
		e.Title = http.StatusText(status)
	}
	e.RetryAfter = retryAfterHeader(h.Get("Retry-After"), now)
	if e.RetryAfter <= 0 {
		e.RetryAfter = bodyRetry
	}
	if e.RetryAfter <= 0 && status == http.StatusTooManyRequests {
		if _, reset, ok := rateHeaders(h, now); ok {
			e.RetryAfter = reset.Sub(now)
		}
	}
	if e.RetryAfter < 0 || e.RetryAfter > maxRetryAfter {
		// Negative means an overflow in the parser; either way, cap it.
		e.RetryAfter = maxRetryAfter
	}
	return e
}

// retryAfterHeader reads a Retry-After header with the project's one cap (apiclient.MaxRetryAfter).
func retryAfterHeader(v string, now time.Time) time.Duration {
	return apiclient.ParseRetryAfter(strings.TrimSpace(v), now)
}

func isProblem(contentType string, raw map[string]json.RawMessage) bool {
	if mt, _, err := mime.ParseMediaType(contentType); err == nil && mt == "application/problem+json" {
		return true
	}
	_, hasType := raw["type"]
	_, hasDetail := raw["detail"]
	_, hasTitle := raw["title"]
	return hasType || hasDetail || hasTitle
}

func problemFields(raw json.RawMessage) []FieldError {
	var items []map[string]json.RawMessage
	if len(raw) == 0 || json.Unmarshal(raw, &items) != nil {
		return nil
	}
	var out []FieldError
	for _, it := range items {
		f := FieldError{Pointer: rawString(it["pointer"]), Detail: rawString(it["detail"]), Code: rawString(it["code"])}
		if f != (FieldError{}) {
			out = append(out, f)
		}
		if len(out) == maxFields {
			break
		}
	}
	return out
}

// rawString returns a JSON string or number as text, and "" for anything else.
func rawString(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return sanitize(s, 1000)
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

// parseSeconds reads a retryAfter body field ("60", 60, "60s").
func parseSeconds(s string) time.Duration {
	if s == "" {
		return 0
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && f > 0 {
		if f > maxRetryAfter.Seconds() {
			return maxRetryAfter
		}
		return time.Duration(f * float64(time.Second))
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return min(d, maxRetryAfter)
	}
	return 0
}

func describeNonJSON(contentType string, body []byte) string {
	mt, _, _ := mime.ParseMediaType(contentType)
	if mt == "text/html" || body[0] == '<' {
		return fmt.Sprintf("unexpected HTML page (%d bytes) instead of JSON", len(body))
	}
	if mt == "" {
		mt = "untyped"
	}
	return fmt.Sprintf("unexpected %s body instead of JSON: %q", mt, sanitize(string(body), 200))
}

// sanitize makes server text safe to put in an error or a log: valid UTF-8, no control
// characters, at most max runes.
func sanitize(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	n := 0
	for _, r := range s {
		if n == max {
			b.WriteString("…")
			break
		}
		if unicode.IsControl(r) {
			r = ' '
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}
