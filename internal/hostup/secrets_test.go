package hostup

import (
	"context"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr/funcr"

	"github.com/contactsync/contactsync/internal/hostup/hostupfake"
)

// TestKeyNeverLoggedOrInErrors runs failing and succeeding calls with a verbose logger and
// checks that neither the log nor any error contains the API key.
func TestKeyNeverLoggedOrInErrors(t *testing.T) {
	const key = "sk-live-SECRET-4711"
	var mu sync.Mutex
	var logs strings.Builder
	logger := funcr.New(func(prefix, args string) {
		mu.Lock()
		defer mu.Unlock()
		logs.WriteString(prefix + " " + args + "\n")
	}, funcr.Options{Verbosity: 1})

	fake := hostupfake.NewDemo(hostupfake.WithAPIKey(key))
	ctx := context.Background()
	var errs []error
	for _, scheme := range []AuthScheme{AuthAPIKey, AuthBearer} {
		c := newFake(t, fake, func(c *Config) { c.APIKey, c.Logger, c.AuthScheme = key, logger, scheme })
		if _, err := c.GetPermissions(ctx, 14000); err != nil { // success
			t.Fatal(err)
		}
		fake.Program("*", 1, hostupfake.Fault{Status: http.StatusInternalServerError})
		_, err := c.GetPermissions(ctx, 14000)
		errs = append(errs, err)
		fake.Program("*", 1, hostupfake.Fault{Drop: true})
		_, err = c.CreateContact(ctx, NewContact{FirstName: "a", LastName: "b", Email: "c@d.e", Password: "p"})
		errs = append(errs, err)
		wrong := newFake(t, fake, func(c *Config) { c.APIKey, c.Logger, c.AuthScheme = key+"x", logger, scheme })
		_, err = wrong.SessionInfo(ctx)
		if !IsAuth(err) {
			t.Fatalf("wrong key: %v", err)
		}
		errs = append(errs, err)
	}

	// A server that echoes the key in its error body: the client redacts it.
	echo := newRaw(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"code":"UNAUTHORIZED","error":"Unauthorized","message":"bad key ` + r.Header.Get("X-API-Key") + `"}`))
	}, func(c *Config) { c.APIKey, c.Logger = key, logger })
	_, err := echo.SessionInfo(ctx)
	if !strings.Contains(err.Error(), "[REDACTED]") {
		t.Errorf("echoed key not redacted: %v", err)
	}
	errs = append(errs, err)

	// Connection refused.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	dead, err := New(Config{BaseURL: "http://" + addr + "/api", APIKey: key, Logger: logger, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	_, err = dead.SessionInfo(ctx)
	if !IsRetryable(err) {
		t.Errorf("connection refused not retryable: %v", err)
	}
	errs = append(errs, err)

	for i, err := range errs {
		if err == nil {
			t.Fatalf("call %d did not fail", i)
		}
		if strings.Contains(err.Error(), key) {
			t.Errorf("error %d contains the key: %v", i, err)
		}
	}
	mu.Lock()
	out := logs.String()
	mu.Unlock()
	if strings.Contains(out, key) || strings.Contains(out, "SECRET") {
		t.Errorf("log contains the key:\n%s", out)
	}
	for _, want := range []string{`"operation"="get_permissions"`, `"method"="GET"`, `"path"="/contacts/14000/permissions"`, `"status"=500`, `"requestId"=`, `"duration"=`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}
}
