package reconciler

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/contactsync/contactsync/internal/hostup"
	"github.com/contactsync/contactsync/internal/onlyoffice"
)

// The redaction property (issue 14): whatever a hostile or buggy server echoes, no part of a
// secret the clients sent (API key, passwords, session token) reaches an error, and so a
// condition, an event or a log line (all are made from the error text). Secrets are embedded
// in random answers at random offsets (beyond every truncation limit), with random case,
// surrounded by random whitespace, in every answer shape the clients parse.

// secretAlphabet never overlaps filler text (lower-case letters and spaces only), so any
// 8-character window of a secret found in an error is a leak, not a coincidence.
func randomSecret(r *rand.Rand) string {
	const digits, upper, symbols = "0123456789", "ABCDEFGHJKLMNPQRSTUVWXYZ", "-_/%!+="
	var b strings.Builder
	for i := range 20 + r.IntN(20) {
		switch i % 3 {
		case 0:
			b.WriteByte(digits[r.IntN(len(digits))])
		case 1:
			b.WriteByte(upper[r.IntN(len(upper))])
		default:
			b.WriteByte(symbols[r.IntN(len(symbols))])
		}
	}
	return b.String()
}

func filler(r *rand.Rand, n int) string {
	const letters = "abcdefghijklmnopqrstuvwxyz    "
	b := make([]byte, n)
	for i := range b {
		b[i] = letters[r.IntN(len(letters))]
	}
	return string(b)
}

// echo renders secret as a server might echo it: random case, random whitespace around it.
func echo(r *rand.Rand, secret string) string {
	s := secret
	switch r.IntN(3) {
	case 1:
		s = strings.ToLower(s)
	case 2:
		s = strings.ToUpper(s)
	}
	ws := []string{"", " ", "\n", "\t", "   "}
	return ws[r.IntN(len(ws))] + s + ws[r.IntN(len(ws))]
}

// answer builds one server answer carrying secret.
func answer(r *rand.Rand, secret string) (int, string, string) {
	text := filler(r, r.IntN(1200)) + echo(r, secret) + filler(r, r.IntN(300))
	jsonText := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\t", `\t`).Replace(text)
	statuses := []int{200, 400, 401, 403, 404, 409, 422, 429, 500, 502, 503, 504}
	status := statuses[r.IntN(len(statuses))]
	switch r.IntN(6) {
	case 0: // HostUp v1 error envelope
		return status, "application/json", fmt.Sprintf(`{"code":"BAD_REQUEST","error":"Bad Request","message":"%s","requestId":"r1","timestamp":"2026-01-01T00:00:00Z"}`, jsonText)
	case 1: // RFC 7807 problem
		return status, "application/problem+json", fmt.Sprintf(`{"type":"https://developer.hostup.se/errors/invalid_request","title":"Invalid","status":%d,"detail":"%s","code":"invalid_request","errors":[{"pointer":"/email","detail":"%s","code":"invalid"}]}`, status, jsonText, jsonText)
	case 2: // HostUp 200 with data.success false
		return 200, "application/json", fmt.Sprintf(`{"success":true,"data":{"success":false,"error":"%s"}}`, jsonText)
	case 3: // ONLYOFFICE error
		return status, "application/json", fmt.Sprintf(`{"status":1,"statusCode":%d,"error":{"message":"%s","type":"System.Exception","stack":"%s"}}`, status, jsonText, jsonText)
	case 4: // an HTML page from a proxy
		return status, "text/html", "<html><body><h1>Error</h1><p>" + text + "</p></body></html>"
	default: // a broken or plain body
		return status, "text/plain", text
	}
}

func leaks(msg string, secrets []string) string {
	low := strings.ToLower(msg)
	for _, s := range secrets {
		ls := strings.ToLower(s)
		for i := 0; i+8 <= len(ls); i++ {
			if strings.Contains(low, ls[i:i+8]) {
				return ls[i : i+8]
			}
		}
	}
	return ""
}

type scripted struct{ status, ctype, body atomic.Value }

func (s *scripted) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", s.ctype.Load().(string))
	w.WriteHeader(s.status.Load().(int))
	_, _ = w.Write([]byte(s.body.Load().(string)))
}

func (s *scripted) set(status int, ctype, body string) {
	s.status.Store(status)
	s.ctype.Store(ctype)
	s.body.Store(body)
}

func TestRedactionProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(14, 2026))
	for range 150 {
		checkRedaction(t, r)
	}
}

// FuzzRedaction lets `make fuzz` search for answers that leak (the seed picks the secrets and
// the shape; body is spliced in around the echoed secret).
func FuzzRedaction(f *testing.F) {
	f.Add(uint64(1), "")
	f.Add(uint64(7), `{"message":"`)
	f.Add(uint64(42), "\u00a0\u200b")
	f.Fuzz(func(t *testing.T, seed uint64, extra string) {
		checkRedaction(t, rand.New(rand.NewPCG(seed, uint64(len(extra)))), extra)
	})
}

func checkRedaction(t *testing.T, r *rand.Rand, extra ...string) {
	t.Helper()
	srv := &scripted{}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	key, password, token := randomSecret(r), randomSecret(r), randomSecret(r)
	secrets := []string{key, password, token}
	// Each server echoes what its client sent it: HostUp the key and the contact password,
	// ONLYOFFICE the password and the token.
	serve := func(sent ...string) {
		st, ct, body := answer(r, sent[r.IntN(len(sent))])
		if len(extra) > 0 && len(body) > 0 {
			i := r.IntN(len(body))
			body = body[:i] + extra[0] + body[i:]
		}
		srv.set(st, ct, body)
	}
	check := func(what string, err error) {
		if err == nil {
			return
		}
		for _, msg := range []string{err.Error(), Classify(err).Message} {
			if l := leaks(msg, secrets); l != "" {
				t.Fatalf("%s: %q of a secret reached the error (secrets %q):\n%s", what, l, secrets, msg)
			}
		}
	}

	hu, err := hostup.New(hostup.Config{BaseURL: ts.URL + "/api", APIKey: key, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	serve(key, password)
	_, err = hu.CreateContact(ctx, hostup.NewContact{FirstName: "A", LastName: "B", Email: "a@example.com", Password: password})
	check("hostup create contact", err)
	// A fresh client: a 429 above may have paused the first one's limiter.
	if hu, err = hostup.New(hostup.Config{BaseURL: ts.URL + "/api", APIKey: key, Timeout: 2 * time.Second}); err != nil {
		t.Fatal(err)
	}
	serve(key)
	_, err = hu.GetPermissions(ctx, 7)
	check("hostup get permissions", err)

	oo, err := onlyoffice.New(onlyoffice.Config{BaseURL: ts.URL, Token: token, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	serve(token)
	_, err = oo.GetContact(ctx, 7)
	check("onlyoffice get contact", err)
	login, err := onlyoffice.New(onlyoffice.Config{BaseURL: ts.URL, UserName: "bot@example.com", Password: password, Timeout: 2 * time.Second, LoginCooldown: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	serve(password)
	_, err = login.Self(ctx)
	check("onlyoffice login", err)
}
