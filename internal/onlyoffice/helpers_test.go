package onlyoffice

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/contactsync/contactsync/internal/onlyoffice/onlyofficefake"
)

// fakeClock is a settable clock shared by the fake portal and the client.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type env struct {
	fake  *onlyofficefake.Server
	srv   *httptest.Server
	clock *fakeClock
}

// newEnv starts the demo portal on a loopback httptest server with a shared fake clock.
func newEnv(t *testing.T, opts ...onlyofficefake.Option) *env {
	t.Helper()
	clk := newClock()
	fake := onlyofficefake.NewDemo(append([]onlyofficefake.Option{onlyofficefake.WithClock(clk.Now)}, opts...)...)
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	return &env{fake: fake, srv: srv, clock: clk}
}

// admin returns a client logged in as the demo service account.
func (e *env) admin(t *testing.T, mod ...func(*Config)) *Client {
	return e.client(t, onlyofficefake.DemoAdminEmail, onlyofficefake.DemoAdminPassword, mod...)
}

func (e *env) client(t *testing.T, user, password string, mod ...func(*Config)) *Client {
	t.Helper()
	cfg := Config{BaseURL: e.srv.URL, UserName: user, Password: password, Now: e.clock.Now, Timeout: 5 * time.Second}
	for _, m := range mod {
		m(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

// staticClient returns a client with a static token pointed at any handler.
func staticClient(t *testing.T, h http.Handler, mod ...func(*Config)) (*Client, *httptest.Server) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	cfg := Config{BaseURL: srv.URL, Token: "STATIC-TOKEN-0123456789", Timeout: 5 * time.Second}
	for _, m := range mod {
		m(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c, srv
}
