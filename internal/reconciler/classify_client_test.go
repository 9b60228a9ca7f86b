package reconciler

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/contactsync/contactsync/internal/apiclient"
	"github.com/contactsync/contactsync/internal/hostup"
	"github.com/contactsync/contactsync/internal/hostup/hostupfake"
)

// TestClassifyCreateWithTheRealClient classifies the errors the real HostUp client returns
// for each way a create can fail against the fake, so the classification cannot agree with a
// hand-made error that the client never produces.
func TestClassifyCreateWithTheRealClient(t *testing.T) {
	const key = "classify-key"
	nc := hostup.NewContact{FirstName: "A", LastName: "B", Email: "a@example.com", Password: "pw-123456"}
	cases := map[string]struct {
		fault    *hostupfake.Fault
		prepare  func(lim *apiclient.Limiter, url *string)
		timeout  time.Duration
		contact  hostup.NewContact
		want     CreateOutcome
		contacts int // contacts the fake holds afterwards, beyond the seeded ones
	}{
		"limiter paused, wait cancelled": {
			prepare: func(lim *apiclient.Limiter, _ *string) { lim.PauseUntil(time.Now().Add(time.Hour)) },
			timeout: 50 * time.Millisecond, want: CreateNotSent,
		},
		"connection refused": {
			prepare: func(_ *apiclient.Limiter, url *string) {
				dead := httptest.NewServer(nil)
				*url = dead.URL
				dead.Close()
			},
			want: CreateNotSent,
		},
		"password missing (local check)": {contact: hostup.NewContact{FirstName: "A", LastName: "B", Email: "a@example.com"}, want: CreateNotSent},
		"200 success false":              {fault: &hostupfake.Fault{AddContactFailure: true}, want: CreateRefused},
		"400 BAD_REQUEST": {fault: &hostupfake.Fault{Status: 400, ContentType: "application/json",
			Body: `{"code":"BAD_REQUEST","error":"Bad Request","message":"email is invalid","requestId":"r1","timestamp":"2026-01-01T00:00:00Z"}`}, want: CreateRefused},
		"coded 500 after the contact was made": {fault: &hostupfake.Fault{Status: 500, AfterApply: true, ContentType: "application/json",
			Body: `{"code":"INTERNAL_SERVER_ERROR","error":"Internal Server Error","message":"Something went wrong","requestId":"r2","timestamp":"2026-01-01T00:00:00Z"}`},
			want: CreateUnknown, contacts: 1},
		"{\"code\":504} after the contact was made": {fault: &hostupfake.Fault{Status: 504, AfterApply: true, ContentType: "application/json", Body: `{"code":504}`},
			want: CreateUnknown, contacts: 1},
		"dropped after the write": {fault: &hostupfake.Fault{Drop: true, AfterApply: true}, want: CreateUnknown, contacts: 1},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			fake := hostupfake.New(hostupfake.WithAPIKey(key))
			srv := httptest.NewServer(fake)
			defer srv.Close()
			before := len(fake.Contacts())
			if tc.fault != nil {
				fake.Program("POST /api/teams", 1, *tc.fault)
			}
			url := srv.URL + "/api"
			lim := apiclient.NewLimiter(0, 1)
			if tc.prepare != nil {
				tc.prepare(lim, &url)
			}
			c, err := hostup.New(hostup.Config{BaseURL: url, APIKey: key, Limiter: lim, Timeout: 2 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if tc.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.timeout)
				defer cancel()
			}
			contact := nc
			if tc.contact != (hostup.NewContact{}) {
				contact = tc.contact
			}
			_, err = c.CreateContact(ctx, contact)
			if err == nil {
				t.Fatal("the create succeeded; the case expects a failure")
			}
			if got := ClassifyCreate(err); got != tc.want {
				t.Errorf("ClassifyCreate(%v) = %d, want %d", err, got, tc.want)
			}
			if got := len(fake.Contacts()) - before; got != tc.contacts {
				t.Errorf("contacts made: got %d, want %d", got, tc.contacts)
			}
		})
	}
}
