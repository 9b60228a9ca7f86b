package onlyoffice

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/contactsync/contactsync/internal/apiclient"
)

// Kind classifies an *Error beyond its HTTP status.
type Kind int

const (
	// KindAPI is an error answer of the API (envelope, HTML or plain text) not covered below.
	KindAPI Kind = iota
	// KindAuth: the portal refused the credentials (login 500 "User authentication failed",
	// a 401 after the one re-login, a 401 with a static token).
	KindAuth
	// KindLockout: the brute-force lock ("Login Fail. Too many attempts"); RetryAfter is 60 s.
	KindLockout
	// KindConfig: the account cannot be used as configured (two-factor authentication).
	KindConfig
	// KindRateLimited: 503 (or 429) with Retry-After; the limiter is paused.
	KindRateLimited
	// KindDecode: a success status whose body is not the expected JSON.
	KindDecode
	// KindInvalidArgument: the client refused to send the request (for example a manager id
	// that is not a GUID). Nothing was sent.
	KindInvalidArgument
)

// LockoutDuration is how long the portal blocks a login after too many failed attempts.
const LockoutDuration = 60 * time.Second

// Error is every answer of the portal the client treats as a failure, and every failure it
// detects itself. Op is the description of the call ("get contact 42"). Message is the
// server's error.message (or the text of a plain-text body, or the title of an HTML page); it
// never contains the password or the token.
type Error struct {
	Op         string
	Kind       Kind
	HTTPStatus int // 0 when nothing was sent (KindInvalidArgument)
	Message    string
	HResult    int
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.HTTPStatus)
	}
	if e.HTTPStatus != 0 {
		msg += " (HTTP " + strconv.Itoa(e.HTTPStatus) + ")"
	}
	if e.RetryAfter > 0 {
		msg += ", retry after " + e.RetryAfter.String()
	}
	return "cannot " + e.Op + ": " + msg
}

// LoginCooldownError is returned instead of logging in while the cool-down after a failed login
// runs (Config.LoginCooldown, 60 s by default). It wraps the failure that started it, so
// IsAuth, IsConfig and IsRetryable answer as for that failure.
type LoginCooldownError struct {
	Remaining time.Duration
	Err       error
}

func (e *LoginCooldownError) Error() string {
	return fmt.Sprintf("%v (not trying to log in again for %s)", e.Err, e.Remaining.Round(time.Second))
}
func (e *LoginCooldownError) Unwrap() error { return e.Err }

// BatchError is the failure of SetContactsAccess. The portal runs the ids in order and aborts at
// the first failing one; the ones before it stay changed, there is no rollback.
//
// The error answer does not name the contact. When it is a per-contact failure (404, 403, or a
// 400 for a non-positive id) the client works the id out by reading the contacts back in
// order (see SetContactsAccess). Index is -1 when the failing id could not be told, or when
// the failure was not about one contact (bad request body, authentication, network, 5xx):
// then any of IDs may or may not have been changed.
type BatchError struct {
	IDs   []int64 // the ids sent, in order
	Index int     // index into IDs of the failing contact; -1 when unknown
	Err   error
}

// FailedID returns the failing contact id, or 0 when unknown.
func (e *BatchError) FailedID() int64 {
	if e.Index < 0 || e.Index >= len(e.IDs) {
		return 0
	}
	return e.IDs[e.Index]
}

// Changed returns the ids processed before the failing one (changed on the portal). It is nil
// when the failing id is unknown.
func (e *BatchError) Changed() []int64 {
	if e.Index < 0 || e.Index > len(e.IDs) {
		return nil
	}
	return append([]int64(nil), e.IDs[:e.Index]...)
}

// Untouched returns the ids after the failing one (not processed). Nil when unknown.
func (e *BatchError) Untouched() []int64 {
	if e.Index < 0 || e.Index >= len(e.IDs) {
		return nil
	}
	return append([]int64(nil), e.IDs[e.Index+1:]...)
}

func (e *BatchError) Error() string {
	if id := e.FailedID(); id != 0 {
		return fmt.Sprintf("%v (failed at contact %d; the %d before it were changed, the %d after it were not)", e.Err, id, e.Index, len(e.IDs)-e.Index-1)
	}
	return fmt.Sprintf("%v (failing contact unknown; any of the %d may have been changed)", e.Err, len(e.IDs))
}
func (e *BatchError) Unwrap() error { return e.Err }

func asError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// IsNotFound reports a 404: no such contact or user, or (GET contact) no read access. An HTML
// 404 of an unknown route counts too (a wrong BaseURL shows up as a 404 of Self).
func IsNotFound(err error) bool {
	e := asError(err)
	return e != nil && e.HTTPStatus == http.StatusNotFound
}

// IsAuth reports a credentials problem: refused login, lockout, or a 401 that survived the one
// re-login (or any 401 with a static token).
func IsAuth(err error) bool {
	e := asError(err)
	return e != nil && (e.Kind == KindAuth || e.Kind == KindLockout)
}

// IsLockout reports the portal's brute-force login lock.
func IsLockout(err error) bool {
	e := asError(err)
	return e != nil && e.Kind == KindLockout
}

// IsForbidden reports a 403: no edit right on the contact, or no access to the CRM module.
func IsForbidden(err error) bool {
	e := asError(err)
	return e != nil && e.HTTPStatus == http.StatusForbidden
}

// IsConfig reports an account that cannot be used as configured (two-factor authentication).
func IsConfig(err error) bool {
	e := asError(err)
	return e != nil && e.Kind == KindConfig
}

// IsRateLimited reports a 503/429 with Retry-After.
func IsRateLimited(err error) bool {
	e := asError(err)
	return e != nil && e.Kind == KindRateLimited
}

// IsRetryable reports whether the same call may succeed later without a change of
// configuration: network failures, 5xx (except the login's authentication 500), 503 and 429.
// Context cancellation is not retryable.
func IsRetryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	if e := asError(err); e != nil {
		switch e.Kind {
		case KindRateLimited:
			return true
		case KindAuth, KindLockout, KindConfig, KindDecode, KindInvalidArgument:
			return false
		}
		return e.HTTPStatus >= 500 || e.HTTPStatus == http.StatusTooManyRequests
	}
	return isNetError(err)
}

func isNetError(err error) bool {
	var ne *apiclient.NetError
	return errors.As(err, &ne)
}

// RetryAfter returns how long to wait before calling again, or zero when the error says
// nothing about it: the rest of a login cool-down, a Retry-After, or the lockout time.
func RetryAfter(err error) time.Duration {
	var ce *LoginCooldownError
	if errors.As(err, &ce) {
		return ce.Remaining
	}
	if e := asError(err); e != nil {
		return e.RetryAfter
	}
	return 0
}

// cleanMessage makes server text safe and short for an error message: valid UTF-8, no control
// characters, collapsed blanks, at most maxMessage bytes.
func cleanMessage(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	space := false
	for _, r := range s {
		if r < ' ' || r == 0x7f || r == '\u2028' || r == '\u2029' || r == '\u0085' || (r >= 0x80 && r < 0xa0) {
			r = ' '
		}
		if r == ' ' {
			if space || b.Len() == 0 {
				continue
			}
			space = true
		} else {
			space = false
		}
		if b.Len()+len(string(r)) > maxMessage {
			b.WriteString("…")
			break
		}
		b.WriteRune(r)
	}
	return strings.TrimRight(b.String(), " ")
}

const maxMessage = 300
