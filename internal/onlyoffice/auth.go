package onlyoffice

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"
)

// authToken returns the token to send: the static token, or the cached login token, logging in
// when there is none, when it is due for renewal, or when it equals stale (the token a 401 was
// answered to). Logins are serialized: concurrent callers that got a 401 for the same token
// share one new login.
func (c *Client) authToken(ctx context.Context, stale string) (string, error) {
	if c.static != "" {
		return c.static, nil
	}
	if tok, ok := c.cached(stale); ok {
		return tok, nil
	}
	select {
	case c.loginSem <- struct{}{}:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	defer func() { <-c.loginSem }()
	if tok, ok := c.cached(stale); ok { // another caller logged in meanwhile
		return tok, nil
	}

	c.mu.Lock()
	if !c.failedAt.IsZero() {
		if left := c.failedAt.Add(c.cooldown).Sub(c.now()); left > 0 {
			err := c.failure
			c.mu.Unlock()
			return "", &LoginCooldownError{Remaining: left, Err: err}
		}
	}
	c.mu.Unlock()

	tok, renewAt, err := c.login(ctx)

	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case err == nil:
		c.redactor.Add(tok)
		c.token, c.renewAt = tok, renewAt
		c.failedAt, c.failure = time.Time{}, nil
		return tok, nil
	case ctx.Err() != nil || IsRateLimited(err):
		// Cancelled by the caller, or turned away before the login was checked: not a
		// failed login attempt.
	default:
		c.failedAt, c.failure = c.now(), err
	}
	if stale != "" && c.token == stale {
		c.token = ""
	}
	return "", err
}

// cached returns the cached token when it is usable and not stale.
func (c *Client) cached(stale string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.token != "" && c.token != stale && c.now().Before(c.renewAt) {
		return c.token, true
	}
	return "", false
}

// login sends POST /api/2.0/authentication and returns the token and when to renew it.
func (c *Client) login(ctx context.Context) (string, time.Time, error) {
	op := operation{"login", "log in"}
	body, err := json.Marshal(map[string]string{"userName": c.userName, "password": c.password})
	if err != nil {
		return "", time.Time{}, errors.New("cannot log in: encoding the request failed")
	}
	resp, err := c.send(ctx, op, http.MethodPost, "/api/2.0/authentication", nil, body, "", 1)
	if err != nil {
		return "", time.Time{}, err
	}
	raw, err := c.parse(op, resp)
	if err != nil {
		if e := asError(err); e != nil && e.Kind == KindAPI {
			classifyLoginError(e)
		}
		return "", time.Time{}, err
	}
	a, err := decodeAuth(raw)
	if err != nil {
		return "", time.Time{}, decodeFailed(op, resp.Status, err)
	}
	if a.Token == "" {
		if a.SMS || a.TFA {
			return "", time.Time{}, &Error{Op: op.desc, Kind: KindConfig, HTTPStatus: resp.Status,
				Message: "the account uses two-factor authentication; use a service account without it"}
		}
		return "", time.Time{}, decodeFailed(op, resp.Status, errors.New("no token in the answer"))
	}
	now := c.now()
	exp, ok := parseAPITime(a.Expires)
	if !ok {
		return a.Token, now.Add(unknownExpiryTTL), nil
	}
	margin := exp.Sub(now) / 10
	if margin > maxRenewMargin {
		margin = maxRenewMargin
	}
	if margin < 0 {
		margin = 0
	}
	// An already expired (or clock-skewed) expires gives renewAt <= now: the token is used for
	// this one call and renewed on the next.
	return a.Token, exp.Add(-margin), nil
}

// classifyLoginError types an error answer to a login.
func classifyLoginError(e *Error) {
	msg := strings.ToLower(e.Message)
	switch {
	case strings.Contains(msg, "too many attempts"):
		e.Kind = KindLockout
		e.RetryAfter = LockoutDuration
	case e.HTTPStatus == http.StatusInternalServerError && strings.Contains(msg, "authentication failed"),
		e.HTTPStatus == http.StatusUnauthorized, e.HTTPStatus == http.StatusForbidden:
		e.Kind = KindAuth
	}
}
