package onlyoffice

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"
	"github.com/google/go-cmp/cmp"

	f "github.com/contactsync/contactsync/internal/onlyoffice/onlyofficefake"
)

func TestDecodePascalCase(t *testing.T) {
	// The doc generator's PascalCase and the wire's camelCase decode alike.
	user := `{"Id":"6F1D2A3B-0C4D-4E5F-8A9B-0C1D2E3F4A5B","UserName":"administrator","FirstName":"Service","LastName":"Account",
		"Email":"admin@demo.example.com","DisplayName":"Service Account","Status":1,"ActivationStatus":1,"IsAdmin":true,"IsOwner":false,"IsVisitor":false}`
	u, err := decodeUser([]byte(user))
	if err != nil {
		t.Fatal(err)
	}
	want := &User{ID: "6f1d2a3b-0c4d-4e5f-8a9b-0c1d2e3f4a5b", UserName: "administrator", FirstName: "Service", LastName: "Account",
		Email: "admin@demo.example.com", DisplayName: "Service Account", Status: 1, ActivationStatus: 1, IsAdmin: true}
	if d := cmp.Diff(want, u); d != "" {
		t.Errorf("PascalCase user (-want +got):\n%s", d)
	}
	env, err := decodeEnvelope([]byte(`{"Count":1,"Status":0,"StatusCode":201,"Response":{"Token":"abc","Expires":"2026-03-01T13:00:00.0000000+01:00"}}`))
	if err != nil || env.StatusCode != 201 || env.Count != 1 {
		t.Fatalf("envelope = %+v, %v", env, err)
	}
	a, err := decodeAuth(env.Response)
	if err != nil || a.Token != "abc" {
		t.Fatalf("auth = %+v, %v", a, err)
	}
	exp, ok := parseAPITime(a.Expires)
	if !ok || !exp.Equal(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)) {
		t.Errorf("expires = %v %v", exp, ok)
	}
	env, err = decodeEnvelope([]byte(`{"STATUS":1,"statuscode":404,"ERROR":{"MESSAGE":"Not found","HRESULT":-2146233088,"Data":{}}}`))
	if err != nil || env.Error == nil || env.Error.Message != "Not found" || env.Error.HResult != -2146233088 || env.Status != 1 {
		t.Fatalf("odd-case error envelope = %+v, %v", env, err)
	}
}

func TestDecodeContactEdgeCases(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    *Contact
		wantErr string
	}{
		{"shared without accessList", `{"id":5,"displayName":"X","isShared":true,"shareType":1}`,
			&Contact{ID: 5, DisplayName: "X", IsShared: true, ShareType: 1}, ""},
		{"private empty list", `{"id":5,"isPrivate":true,"shareType":0,"accessList":[]}`,
			&Contact{ID: 5, IsPrivate: true, AccessList: []Manager{}}, ""},
		{"null accessList", `{"id":5,"isPrivate":true,"shareType":0,"accessList":null}`,
			&Contact{ID: 5, IsPrivate: true}, ""},
		{"no shareType, shared", `{"id":5,"isShared":true}`, &Contact{ID: 5, IsShared: true, ShareType: 1}, ""},
		{"no shareType, private", `{"id":5,"isPrivate":true}`, &Contact{ID: 5, IsPrivate: true}, ""},
		{"uppercase GUID", `{"id":5,"shareType":0,"accessList":[{"id":"ABCDEF01-0000-4000-8000-000000000001","displayName":"A"}]}`,
			&Contact{ID: 5, AccessList: []Manager{{"abcdef01-0000-4000-8000-000000000001", "A"}}}, ""},
		{"no id", `{"displayName":"X"}`, nil, "no valid id"},
		{"unknown shareType", `{"id":5,"shareType":7}`, nil, "unknown shareType"},
		{"string id", `{"id":"5"}`, nil, "malformed contact"},
		{"array", `[]`, nil, "not a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeContact([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestErrorTyping(t *testing.T) {
	type answer struct {
		status int
		ctype  string
		header map[string]string
		body   string
	}
	tests := []struct {
		name        string
		a           answer
		wantStatus  int
		wantMsg     string
		wantHResult int
		wantKind    Kind
		retryable   bool
		retryAfter  time.Duration
	}{
		{"404 envelope", answer{404, "application/json", nil, `{"status":1,"statusCode":404,"error":{"message":"Not found","hresult":-2146233088,"data":{}}}`},
			404, "Not found", -2146233088, KindAPI, false, 0},
		{"403 PascalCase envelope", answer{403, "application/json", nil, `{"Status":1,"StatusCode":403,"Error":{"Message":"Access Denied","HResult":-2146233078}}`},
			403, "Access Denied", -2146233078, KindAPI, false, 0},
		{"402 inside a 200", answer{200, "application/json", nil, `{"status":1,"statusCode":402,"error":{"message":"Payment Required.","hresult":-2147467259,"data":{}}}`},
			402, "Payment Required.", -2147467259, KindAPI, false, 0},
		{"HTML 404 page", answer{404, "text/html", nil, "<!DOCTYPE html><html><head><title>ONLYOFFICE&trade; - Page not found</title></head><body>x</body></html>"},
			404, "HTML page: ONLYOFFICE™ - Page not found", 0, KindAPI, false, 0},
		{"HTML 502 without title", answer{502, "text/html", nil, "<html><body>bad</body></html>"},
			502, "HTML page: Bad Gateway", 0, KindAPI, true, 0},
		{"plain 401 static token", answer{401, "text/plain", nil, "Unauthorized"},
			401, "Unauthorized: the configured token was refused", 0, KindAuth, false, 0},
		{"plain 500 multi-line", answer{500, "text/plain", nil, "Something broke\n   at ASC.Api..."},
			500, "Something broke", 0, KindAPI, true, 0},
		{"empty 500", answer{500, "", nil, ""}, 500, "Internal Server Error", 0, KindAPI, true, 0},
		{"503 without Retry-After", answer{503, "application/json", nil, `{"status":1,"statusCode":503,"error":{"message":"Portal is being transferred"}}`},
			503, "Portal is being transferred", 0, KindAPI, true, 0},
		{"503 with Retry-After", answer{503, "text/html", map[string]string{"Retry-After": "7"}, "<html><head><title>503 Service Temporarily Unavailable</title></head></html>"},
			503, "HTML page: 503 Service Temporarily Unavailable", 0, KindRateLimited, true, 7 * time.Second},
		{"503 with huge Retry-After", answer{503, "", map[string]string{"Retry-After": "99999999"}, ""},
			503, "Service Unavailable", 0, KindRateLimited, true, maxRetryAfter},
		{"429", answer{429, "text/plain", map[string]string{"Retry-After": "2"}, "Too Many Requests"},
			429, "Too Many Requests", 0, KindRateLimited, true, 2 * time.Second},
		{"HTML in a 200", answer{200, "text/html", nil, "<html>login</html>"},
			200, "unexpected response: HTML page instead of JSON", 0, KindDecode, false, 0},
		{"truncated JSON in a 200", answer{200, "application/json", nil, `{"status":0,"response":{"id":`},
			200, "", 0, KindDecode, false, 0},
		{"200 without response", answer{200, "application/json", nil, `{"status":0,"statusCode":200}`},
			200, "unexpected response: the envelope has no response", 0, KindDecode, false, 0},
		{"200 with null response", answer{200, "application/json", nil, `{"status":0,"statusCode":200,"response":null}`},
			200, "unexpected response: the envelope has no response", 0, KindDecode, false, 0},
		{"200 with wrong payload", answer{200, "application/json", nil, `{"status":0,"response":[1,2]}`},
			200, "unexpected response: user is not a JSON object", 0, KindDecode, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tt.a.header {
					w.Header().Set(k, v)
				}
				if tt.a.ctype != "" {
					w.Header().Set("Content-Type", tt.a.ctype)
				}
				w.WriteHeader(tt.a.status)
				_, _ = w.Write([]byte(tt.a.body))
			})
			c, _ := staticClient(t, h)
			_, err := c.Self(context.Background())
			e := asError(err)
			if e == nil {
				t.Fatalf("err = %v (%T), want *Error", err, err)
			}
			if e.HTTPStatus != tt.wantStatus || (tt.wantMsg != "" && e.Message != tt.wantMsg) || e.HResult != tt.wantHResult || e.Kind != tt.wantKind {
				t.Errorf("got status=%d msg=%q hresult=%d kind=%d, want %d %q %d %d", e.HTTPStatus, e.Message, e.HResult, e.Kind, tt.wantStatus, tt.wantMsg, tt.wantHResult, tt.wantKind)
			}
			if IsRetryable(err) != tt.retryable || RetryAfter(err) != tt.retryAfter {
				t.Errorf("retryable=%v retryAfter=%v, want %v %v", IsRetryable(err), RetryAfter(err), tt.retryable, tt.retryAfter)
			}
			if !strings.HasPrefix(err.Error(), "cannot get current user: ") {
				t.Errorf("error string = %q", err)
			}
			if paused := !c.Limiter().Paused().IsZero(); paused != (tt.wantKind == KindRateLimited) {
				t.Errorf("limiter paused = %v", paused)
			}
		})
	}
}

func TestIsPredicatesOnForeignErrors(t *testing.T) {
	for _, err := range []error{nil, context.Canceled, context.DeadlineExceeded, bytes.ErrTooLarge} {
		if IsRetryable(err) || IsAuth(err) || IsNotFound(err) || IsForbidden(err) || IsConfig(err) || RetryAfter(err) != 0 {
			t.Errorf("predicates true for %v", err)
		}
	}
}

func TestSameManagers(t *testing.T) {
	a, b, c := "a11ce000-0000-4000-8000-000000000001", "b0b00000-0000-4000-8000-000000000002", "ca201000-0000-4000-8000-000000000003"
	tests := []struct {
		x, y []string
		want bool
	}{
		{nil, nil, true},
		{nil, []string{}, true},
		{[]string{a, b}, []string{b, a}, true},
		{[]string{a, b, b}, []string{strings.ToUpper(b), " " + a}, true},
		{[]string{a}, []string{a, b}, false},
		{[]string{a, b}, []string{a, c}, false},
		{[]string{a}, nil, false},
	}
	for _, tt := range tests {
		if got := SameManagers(tt.x, tt.y); got != tt.want {
			t.Errorf("SameManagers(%v, %v) = %v, want %v", tt.x, tt.y, got, tt.want)
		}
		if got := SameManagers(tt.y, tt.x); got != tt.want {
			t.Errorf("SameManagers(%v, %v) = %v (not symmetric)", tt.y, tt.x, got)
		}
	}
}

// TestSecretsNeverLeak runs failing and succeeding calls with a verbose logger and checks that
// neither the password nor any token shows up in the logs or the error strings, even when the
// server echoes them.
func TestSecretsNeverLeak(t *testing.T) {
	const password = "Pa55-SECRET-word-42"
	var logs bytes.Buffer
	log := funcr.New(func(prefix, args string) { logs.WriteString(prefix + " " + args + "\n") }, funcr.Options{Verbosity: 9})
	var errStrings []string
	record := func(err error) {
		if err != nil {
			errStrings = append(errStrings, err.Error())
		}
	}

	// 1. A portal that echoes the secrets in its error messages.
	const echoToken = "TOKEN-SECRET-abcdef"
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Path == f.RouteAuthentication && r.URL.Query().Get("x") == "" && !strings.Contains(r.Header.Get("X-Test"), "fail"):
			w.WriteHeader(201)
			_, _ = w.Write([]byte(`{"status":0,"statusCode":201,"response":{"token":"` + echoToken + `","expires":"2099-01-01T00:00:00.0000000Z"}}`))
		case r.Header.Get("Authorization") == echoToken:
			w.WriteHeader(403)
			_, _ = w.Write([]byte(`{"status":1,"statusCode":403,"error":{"message":"token ` + echoToken + ` may not do that; password ` + password + `"}}`))
		default:
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(401)
			_, _ = w.Write([]byte("Unauthorized " + r.Header.Get("Authorization")))
		}
	})
	c, _ := staticClient(t, h, func(cfg *Config) {
		cfg.Token, cfg.UserName, cfg.Password, cfg.Logger = "", "svc@example.com", password, log
	})
	_, err := c.GetContact(context.Background(), 5)
	if !IsForbidden(err) {
		t.Fatalf("err = %v, want forbidden", err)
	}
	record(err)
	record(c.SetContactAccess(context.Background(), 5, true, []string{"a11ce000-0000-4000-8000-000000000001"}))
	record(c.SetContactsAccess(context.Background(), []int64{5, 6}, true, nil))

	// 2. A static token refused, with the token echoed in the 401 body.
	sc, _ := staticClient(t, h, func(cfg *Config) { cfg.Logger = log })
	_, err = sc.Self(context.Background())
	if !IsAuth(err) {
		t.Fatalf("err = %v, want auth", err)
	}
	record(err)

	// 3. The fake portal: bad password, then good calls; tokens seen on the wire are recorded.
	e := newEnv(t)
	var seen []string
	var mu = make(chan struct{}, 1)
	wrap := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu <- struct{}{}
		if a := r.Header.Get("Authorization"); a != "" {
			seen = append(seen, a)
		}
		<-mu
		e.fake.ServeHTTP(w, r)
	})
	bad, _ := staticClient(t, wrap, func(cfg *Config) {
		cfg.Token, cfg.UserName, cfg.Password, cfg.Logger, cfg.Now = "", f.DemoAdminEmail, password, log, e.clock.Now
	})
	_, err = bad.Self(context.Background())
	record(err)
	_, err = bad.Self(context.Background()) // cool-down
	record(err)
	good, _ := staticClient(t, wrap, func(cfg *Config) {
		cfg.Token, cfg.UserName, cfg.Password, cfg.Logger, cfg.Now = "", f.DemoAdminEmail, f.DemoAdminPassword, log, e.clock.Now
	})
	if _, err := good.Self(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, err = good.GetContact(context.Background(), 999999)
	record(err)
	e.fake.InvalidateTokens()
	if _, err := good.GetContactAccess(context.Background(), f.DemoContactAda); err != nil {
		t.Fatal(err)
	}

	if len(seen) < 2 {
		t.Fatalf("no tokens seen on the wire")
	}
	if !strings.Contains(logs.String(), "ONLYOFFICE request") || !strings.Contains(logs.String(), `"operation"="login"`) {
		t.Fatalf("expected request log lines, got:\n%s", logs.String())
	}
	if len(errStrings) < 6 {
		t.Fatalf("only %d errors recorded", len(errStrings))
	}
	secrets := append([]string{password, f.DemoAdminPassword, echoToken, "STATIC-TOKEN-0123456789"}, seen...)
	for _, s := range secrets {
		if strings.Contains(logs.String(), s) {
			t.Errorf("logs contain secret %q", s)
		}
		for _, es := range errStrings {
			if strings.Contains(es, s) {
				t.Errorf("error %q contains secret %q", es, s)
			}
		}
	}
}
