package hostup

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	dto "github.com/prometheus/client_model/go"

	"github.com/contactsync/contactsync/internal/apiclient"
	"github.com/contactsync/contactsync/internal/hostup/hostupfake"
)

type answerSpec struct {
	status int
	header map[string]string
	body   string
}

func (a answerSpec) handler() http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		for k, v := range a.header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(a.status)
		_, _ = w.Write([]byte(a.body))
	}
}

func TestErrorShapes(t *testing.T) {
	tests := map[string]struct {
		answer    answerSpec
		want      *Error
		retryable bool
		notFound  bool
		auth      bool
	}{
		"legacy 400": {
			answer: answerSpec{400, nil, `{"code":"BAD_REQUEST","error":"Bad Request","message":"Missing required parameters: type and id","requestId":"2121ae20-bd9d-41e9-aeeb-5dd1dd1a24ba","timestamp":"2026-02-10T00:00:00.000Z"}`},
			want:   &Error{HTTPStatus: 400, Code: "BAD_REQUEST", Title: "Bad Request", Message: "Missing required parameters: type and id", RequestID: "2121ae20-bd9d-41e9-aeeb-5dd1dd1a24ba"},
		},
		"legacy 401": {
			answer: answerSpec{401, nil, `{"code":"UNAUTHORIZED","error":"Unauthorized","message":"You must be logged in","requestId":"r1"}`},
			want:   &Error{HTTPStatus: 401, Code: "UNAUTHORIZED", Title: "Unauthorized", Message: "You must be logged in", RequestID: "r1"},
			auth:   true,
		},
		"legacy 404": {
			answer:   answerSpec{404, nil, `{"code":"NOT_FOUND","error":"Not Found","message":"Invite not found","requestId":"r2"}`},
			want:     &Error{HTTPStatus: 404, Code: "NOT_FOUND", Title: "Not Found", Message: "Invite not found", RequestID: "r2"},
			notFound: true,
		},
		"legacy 503": {
			answer:    answerSpec{503, nil, `{"code":"SERVICE_UNAVAILABLE","error":"Service Unavailable","message":"Failed to delete contact","requestId":"r3"}`},
			want:      &Error{HTTPStatus: 503, Code: "SERVICE_UNAVAILABLE", Title: "Service Unavailable", Message: "Failed to delete contact", RequestID: "r3"},
			retryable: true,
		},
		"legacy 429 body retryAfter": {
			answer:    answerSpec{429, nil, `{"error":"Too Many Requests","message":"Slow down","retryAfter":"7","requestId":"r4"}`},
			want:      &Error{HTTPStatus: 429, Title: "Too Many Requests", Message: "Slow down", RequestID: "r4", RetryAfter: 7 * time.Second},
			retryable: true,
		},
		"problem 400 with errors": {
			answer: answerSpec{400, map[string]string{"Content-Type": "application/problem+json"},
				`{"type":"https://developer.hostup.se/errors/invalid_request","title":"Invalid request","status":400,"detail":"The request body is invalid.","code":"invalid_request","instance":"/api/v2/vps","requestId":"req_01hxa3b4c5d6e7f8g9h0j1k2m3","timestamp":"2026-04-01T00:00:00Z","errors":[{"pointer":"/email","detail":"must be an e-mail","code":"invalid_format"}]}`},
			want: &Error{HTTPStatus: 400, Code: "invalid_request", Title: "Invalid request", Message: "The request body is invalid.",
				RequestID: "req_01hxa3b4c5d6e7f8g9h0j1k2m3", Problem: true, Fields: []FieldError{{Pointer: "/email", Detail: "must be an e-mail", Code: "invalid_format"}}},
		},
		"problem 403 without content type": {
			answer: answerSpec{403, nil, `{"type":"https://developer.hostup.se/errors/forbidden","title":"Forbidden","status":403,"detail":"Missing scope","code":"forbidden","requestId":"req_1"}`},
			want:   &Error{HTTPStatus: 403, Code: "forbidden", Title: "Forbidden", Message: "Missing scope", RequestID: "req_1", Problem: true},
			auth:   true,
		},
		"problem 429 with headers": {
			answer: answerSpec{429, map[string]string{"Content-Type": "application/problem+json", "Retry-After": "30"},
				`{"type":"https://developer.hostup.se/errors/rate_limited","title":"Too Many Requests","status":429,"detail":"Rate limited","code":"rate_limited","requestId":"req_2"}`},
			want:      &Error{HTTPStatus: 429, Code: "rate_limited", Title: "Too Many Requests", Message: "Rate limited", RequestID: "req_2", Problem: true, RetryAfter: 30 * time.Second},
			retryable: true,
		},
		"html 502": {
			answer:    answerSpec{502, map[string]string{"Content-Type": "text/html"}, `<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>`},
			want:      &Error{HTTPStatus: 502, Title: "Bad Gateway", Message: "unexpected HTML page (74 bytes) instead of JSON"},
			retryable: true,
		},
		"plain text 500": {
			answer:    answerSpec{500, map[string]string{"Content-Type": "text/plain"}, "upstream connect error\n"},
			want:      &Error{HTTPStatus: 500, Title: "Internal Server Error", Message: `unexpected text/plain body instead of JSON: "upstream connect error"`},
			retryable: true,
		},
		"empty 404": {
			answer:   answerSpec{404, nil, ""},
			want:     &Error{HTTPStatus: 404, Title: "Not Found"},
			notFound: true,
		},
		"empty 408": {
			answer:    answerSpec{408, nil, ""},
			want:      &Error{HTTPStatus: 408, Title: "Request Timeout"},
			retryable: true,
		},
		"json array body": {
			answer: answerSpec{400, nil, `["nope"]`},
			want:   &Error{HTTPStatus: 400, Title: "Bad Request", Message: `unexpected text/plain body instead of JSON: "[\"nope\"]"`},
		},
		"200 with success false": {
			answer: answerSpec{200, nil, `{"success":false,"code":"BAD_REQUEST","error":"Bad Request","message":"nope","requestId":"r5"}`},
			want:   &Error{HTTPStatus: 200, Code: "BAD_REQUEST", Title: "Bad Request", Message: "nope", RequestID: "r5"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := newRaw(t, tc.answer.handler())
			_, err := c.GetPermissions(context.Background(), 10456)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T %v, want *Error", err, err)
			}
			tc.want.Op = "get contact permissions"
			if diff := cmp.Diff(tc.want, e); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
			if !strings.HasPrefix(err.Error(), "cannot get contact permissions: HTTP ") {
				t.Errorf("message %q", err)
			}
			if tc.want.RequestID != "" && !strings.Contains(err.Error(), tc.want.RequestID) {
				t.Errorf("message %q lacks the requestId", err)
			}
			if IsRetryable(err) != tc.retryable || IsNotFound(err) != tc.notFound || IsAuth(err) != tc.auth {
				t.Errorf("retryable=%v notFound=%v auth=%v", IsRetryable(err), IsNotFound(err), IsAuth(err))
			}
			if RetryAfter(err) != tc.want.RetryAfter {
				t.Errorf("RetryAfter = %v", RetryAfter(err))
			}
		})
	}
}

func TestDecodeFailures(t *testing.T) {
	tests := map[string]struct {
		answer  answerSpec
		maxBody int64
		wantNet bool // a NetError rather than a DecodeError
		wantMsg string
	}{
		"truncated json":  {answer: answerSpec{200, nil, `{"success":true,"data":{"services":[{"id":"1","na`}, wantMsg: "unexpected end of JSON input"},
		"html with 200":   {answer: answerSpec{200, map[string]string{"Content-Type": "text/html"}, `<html>maintenance</html>`}, wantMsg: "invalid character"},
		"empty 200":       {answer: answerSpec{200, nil, ``}, wantMsg: "unexpected end of JSON input"},
		"no data":         {answer: answerSpec{200, nil, `{"success":true,"requestId":"r9"}`}, wantMsg: "no data object"},
		"data is null":    {answer: answerSpec{200, nil, `{"success":true,"data":null}`}, wantMsg: "no data object"},
		"missing field":   {answer: answerSpec{200, nil, `{"success":true,"data":{"services":[],"domains":[],"dnsZones":[]}}`}, wantMsg: "field canViewInvoices is missing"},
		"wrong type":      {answer: answerSpec{200, nil, `{"success":true,"data":{"services":{}}}`}, wantMsg: "cannot unmarshal"},
		"resource no id":  {answer: answerSpec{200, nil, `{"success":true,"data":{"services":[{"name":"x"}]}}`}, wantMsg: "resource without an id"},
		"oversized body":  {answer: answerSpec{200, nil, `{"success":true,"data":{"pad":"` + strings.Repeat("x", 2000) + `"}}`}, maxBody: 1024, wantNet: true, wantMsg: "exceeds the size limit"},
		"oversized error": {answer: answerSpec{500, nil, strings.Repeat("x", 2000)}, maxBody: 1024, wantNet: true, wantMsg: "HTTP 500"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := newRaw(t, tc.answer.handler(), func(c *Config) { c.MaxBody = tc.maxBody })
			p, err := c.GetPermissions(context.Background(), 1)
			if p != nil {
				t.Errorf("got a value %+v with error %v", p, err)
			}
			var ne *apiclient.NetError
			var de *DecodeError
			if tc.wantNet && !errors.As(err, &ne) || !tc.wantNet && !errors.As(err, &de) {
				t.Fatalf("error %T %v", err, err)
			}
			if !IsRetryable(err) {
				t.Error("not retryable")
			}
			if !strings.HasPrefix(err.Error(), "cannot get contact permissions: ") || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("message %q, want it to contain %q", err, tc.wantMsg)
			}
		})
	}
}

func TestCreateContactFailures(t *testing.T) {
	tests := map[string]struct {
		body      string
		wantCode  string // *Error code; "" means a *DecodeError
		wantMsg   string
		retryable bool
	}{
		"data.success false": {
			body:     `{"success":true,"requestId":"r1","data":{"success":false,"error":"Failed to add contact","call":"addClientContact","server_time":1769765937}}`,
			wantCode: CodeAddContactFailed, wantMsg: "cannot create contact: HTTP 200 ADD_CONTACT_FAILED: Failed to add contact (requestId r1)", retryable: true,
		},
		"data.success false without reason": {
			body:     `{"success":true,"data":{"success":false}}`,
			wantCode: CodeAddContactFailed, wantMsg: "without a reason", retryable: true,
		},
		"success without id": {body: `{"success":true,"data":{"success":true}}`, wantMsg: `data.contact_id "" is not a positive integer`, retryable: true},
		"zero id":            {body: `{"success":true,"data":{"success":true,"contact_id":0}}`, wantMsg: "not a positive integer", retryable: true},
		"no data.success (not required in seed 002)": {body: `{"success":true,"data":{"contact_id":14087}}`},
		"neither success nor id":                     {body: `{"success":true,"data":{}}`, wantMsg: "neither data.success nor data.contact_id", retryable: true},
		"fractional id":                              {body: `{"success":true,"data":{"success":true,"contact_id":1.5}}`, wantMsg: "not a positive integer", retryable: true},
		"id is string number":                        {body: `{"success":true,"data":{"success":true,"contact_id":"14087"}}`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := newRaw(t, answerSpec{200, nil, tc.body}.handler())
			id, err := c.CreateContact(context.Background(), NewContact{FirstName: "a", LastName: "b", Email: "c@d.e", Password: "p"})
			if tc.wantMsg == "" {
				if err != nil || id != 14087 {
					t.Fatalf("id=%d err=%v", id, err)
				}
				return
			}
			if id != 0 {
				t.Errorf("id %d with an error", id)
			}
			var e *Error
			if (tc.wantCode != "") != errors.As(err, &e) || (e != nil && e.Code != tc.wantCode) {
				t.Fatalf("error %T %v", err, err)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("message %q, want %q", err, tc.wantMsg)
			}
			if IsRetryable(err) != tc.retryable {
				t.Errorf("retryable = %v", IsRetryable(err))
			}
		})
	}
}

func TestCreateContactFailureFromFake(t *testing.T) {
	fake := hostupfake.NewDemo()
	fake.Program("POST /api/teams", 1, hostupfake.Fault{AddContactFailure: true})
	c := newFake(t, fake)
	before := len(fake.Contacts())
	_, err := c.CreateContact(context.Background(), NewContact{FirstName: "a", LastName: "b", Email: "c@d.e", Password: "p"})
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeAddContactFailed || e.HTTPStatus != 200 || e.RequestID == "" {
		t.Fatalf("error %v", err)
	}
	if len(fake.Contacts()) != before || fake.Writes() != 0 {
		t.Error("a failed create left a contact")
	}
}

func TestRateLimited(t *testing.T) {
	now := time.Now()
	reset := now.Add(40 * time.Second).UTC().Format(time.RFC3339)
	tests := map[string]struct {
		answer    answerSpec
		wantRetry time.Duration
		tolerance time.Duration
	}{
		"retry-after header": {
			answer:    answerSpec{429, map[string]string{"Retry-After": "12", "X-RateLimit-Limit": "60", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}, `{"error":"Too Many Requests","message":"Slow down","retryAfter":"12","requestId":"r1"}`},
			wantRetry: 12 * time.Second,
		},
		"reset header only": {
			answer:    answerSpec{429, map[string]string{"X-RateLimit-Limit": "60", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}, ``},
			wantRetry: 40 * time.Second, tolerance: 2 * time.Second,
		},
		"nothing said": {
			answer:    answerSpec{429, nil, `{"error":"Too Many Requests"}`},
			wantRetry: defaultRetryAfter,
		},
		"absurd retry-after": {
			answer:    answerSpec{429, map[string]string{"Retry-After": "1e300"}, ``},
			wantRetry: maxRetryAfter,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			lim := apiclient.NewLimiter(100, 10)
			c := newRaw(t, tc.answer.handler(), func(c *Config) { c.Limiter = lim })
			before := rateLimitedCount(t)
			_, err := c.GetPermissions(context.Background(), 1)
			got := RetryAfter(err)
			if d := got - tc.wantRetry; d < -tc.tolerance-time.Second || d > tc.tolerance+time.Second {
				t.Fatalf("RetryAfter = %v, want %v (err %v)", got, tc.wantRetry, err)
			}
			if !IsRetryable(err) {
				t.Error("429 not retryable")
			}
			paused := time.Until(lim.Paused())
			if paused < tc.wantRetry-tc.tolerance-2*time.Second {
				t.Errorf("limiter paused for %v, want about %v", paused, tc.wantRetry)
			}
			if after := rateLimitedCount(t); after != before+1 {
				t.Errorf("rate-limited counter went %v -> %v", before, after)
			}
		})
	}
}

func TestBudgetFromSuccessHeaders(t *testing.T) {
	reset := time.Now().Add(20 * time.Second).UTC().Format(time.RFC3339)
	lim := apiclient.NewLimiter(100, 10)
	c := newRaw(t, answerSpec{200, map[string]string{"X-RateLimit-Limit": "60", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset},
		`{"success":true,"data":{"authenticated":true,"isContact":false}}`}.handler(), func(c *Config) { c.Limiter = lim })
	if _, err := c.SessionInfo(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Remaining 0 on a success: the limiter must hold further calls until the reset.
	if p := time.Until(lim.Paused()); p < 15*time.Second || p > 21*time.Second {
		t.Errorf("limiter paused for %v, want about 20s", p)
	}
}

func TestFakeRateLimitPausesClient(t *testing.T) {
	// Real clock: the client compares X-RateLimit-Reset with its own time.
	fake := hostupfake.NewDemo(hostupfake.WithRateLimit(1, 2))
	lim := apiclient.NewLimiter(0, 1)
	c := newFake(t, fake, func(c *Config) { c.Limiter = lim })
	ctx := context.Background()
	if _, err := c.SessionInfo(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SessionInfo(ctx); err != nil {
		t.Fatal(err)
	}
	// The second answer said Remaining 0, so the client now waits before calling again.
	if lim.Paused().IsZero() {
		t.Fatal("limiter not paused after the budget ran out")
	}
	lim2 := apiclient.NewLimiter(0, 1)
	c2 := newFake(t, fake, func(c *Config) { c.Limiter = lim2 })
	_, err := c2.SessionInfo(ctx)
	var e *Error
	if !errors.As(err, &e) || e.HTTPStatus != 429 || e.RetryAfter != time.Second || e.RequestID == "" {
		t.Fatalf("third call: %v", err)
	}
	if lim2.Paused().IsZero() {
		t.Error("limiter not paused by the 429")
	}
}

func TestNetworkFailures(t *testing.T) {
	fake := hostupfake.NewDemo()
	c := newFake(t, fake)
	ctx := context.Background()
	fake.Program("GET /api/session-info", 1, hostupfake.Fault{Drop: true})
	_, err := c.SessionInfo(ctx)
	var ne *apiclient.NetError
	if !errors.As(err, &ne) || !IsRetryable(err) || !strings.HasPrefix(err.Error(), "cannot get session info: ") {
		t.Fatalf("dropped connection: %T %v", err, err)
	}

	fake.Program("GET /api/session-info", 1, hostupfake.Fault{Latency: 2 * time.Second})
	c2 := newFake(t, fake, func(c *Config) { c.Timeout = 100 * time.Millisecond })
	_, err = c2.SessionInfo(ctx)
	if !errors.As(err, &ne) || !IsRetryable(err) {
		t.Fatalf("timeout: %T %v", err, err)
	}

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = c.SessionInfo(cctx)
	if err == nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled: %v", err)
	}
}

func TestFaultsSurfaceAsTypedErrors(t *testing.T) {
	fake := hostupfake.NewDemo()
	c := newFake(t, fake)
	ctx := context.Background()
	key := "GET /api/contacts/{id}/permissions"
	tests := map[string]struct {
		fault hostupfake.Fault
		check func(error) bool
	}{
		"status 503": {hostupfake.Fault{Status: 503}, func(err error) bool {
			var e *Error
			return errors.As(err, &e) && e.HTTPStatus == 503 && e.Code == "SERVICE_UNAVAILABLE"
		}},
		"html 502": {hostupfake.Fault{Status: 502, Body: "<html>bad gateway</html>", ContentType: "text/html"}, func(err error) bool {
			var e *Error
			return errors.As(err, &e) && e.HTTPStatus == 502 && strings.Contains(e.Message, "HTML page")
		}},
		"malformed": {hostupfake.Fault{Malformed: true}, func(err error) bool { var d *DecodeError; return errors.As(err, &d) }},
		"truncated": {hostupfake.Fault{Truncate: true}, func(err error) bool { var d *DecodeError; return errors.As(err, &d) }},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			fake.Program(key, 1, tc.fault)
			p, err := c.GetPermissions(ctx, 14000)
			if p != nil || !tc.check(err) || !IsRetryable(err) {
				t.Fatalf("p=%v err=%T %v", p, err, err)
			}
			if _, err := c.GetPermissions(ctx, 14000); err != nil {
				t.Fatalf("the fault did not stop after one call: %v", err)
			}
		})
	}
}

func rateLimitedCount(t *testing.T) float64 {
	t.Helper()
	var m dto.Metric
	if err := apiclient.RateLimitedTotal.WithLabelValues(Provider).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

func TestCreateContactWithoutSuccessFromFake(t *testing.T) {
	fake := hostupfake.NewDemo(hostupfake.WithCreateOmitsSuccess())
	c := newFake(t, fake)
	id, err := c.CreateContact(context.Background(), NewContact{FirstName: "a", LastName: "b", Email: "c@d.e", Password: "p"})
	if err != nil || id <= 0 {
		t.Fatalf("a contact_id without data.success must be a success: id=%d err=%v", id, err)
	}
}
