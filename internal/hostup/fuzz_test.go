package hostup

import (
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// addSeeds adds every testdata file and a few hostile bodies to a fuzz corpus.
func addSeeds(f *testing.F, extra ...string) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.json"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range append(extra, ``, `{}`, `null`, `{"success":true,"data":null}`, `{"success":false}`, `{"data":[]}`,
		`{"success":true,"data":{"services":[null],"domains":[""],"dnsZones":[1]}}`) {
		f.Add([]byte(s))
	}
}

func FuzzDecodePermissions(f *testing.F) {
	addSeeds(f, `{"success":true,"data":{"services":[{"id":1,"hasAccess":null}],"domains":["x"],"dnsZones":[],"canViewInvoices":true,"canReceiveInvoices":true,"canOpenTickets":true,"canViewTickets":true,"canReceiveTicketEmails":true,"canCloseTickets":true,"canPlaceOrders":true,"accessAllVps":true,"accessAllHosting":true,"accessAllDomains":true}}`)
	f.Fuzz(func(t *testing.T, body []byte) {
		data, _, err := decodeEnvelope(body)
		if err != nil {
			return
		}
		p, err := decodePermissions(data)
		if (p == nil) == (err == nil) {
			t.Fatalf("p=%v err=%v: want exactly one", p, err)
		}
		if err != nil {
			return
		}
		if p.Services == nil || p.Domains == nil || p.DNSZones == nil {
			t.Fatal("nil list in a decoded value")
		}
		for _, r := range append(append(p.Services, p.Domains...), p.DNSZones...) {
			if r.ID == "" && r.Name == "" {
				t.Fatalf("resource without id and name: %+v", r)
			}
		}
		if _, err := decodeGrantPermissions(data); err == nil {
			// Without grant.id this must fail; with one it is fine either way.
			var probe struct{ Grant *struct{ ID any } }
			_ = probeJSON(data, &probe)
			if probe.Grant == nil {
				t.Fatal("grant permissions decoded without a grant object")
			}
		}
	})
}

func FuzzDecodeGrants(f *testing.F) {
	addSeeds(f, `{"success":true,"data":{"grantedByMe":[{"id":"x","created_at":"2026-02-10 00:00:00","revoked_at":"bad"}],"grantedToMe":[]}}`,
		`{"success":true,"data":{"grantedByMe":[{"id":7,"invite_expires_at":"2026-02-10T00:00:00+02:00"}],"grantedToMe":null}}`)
	f.Fuzz(func(t *testing.T, body []byte) {
		data, _, err := decodeEnvelope(body)
		if err != nil {
			return
		}
		byMe, toMe, err := decodeGrants(data)
		if err != nil {
			if byMe != nil || toMe != nil {
				t.Fatal("partial lists with an error")
			}
			return
		}
		if byMe == nil || toMe == nil {
			t.Fatal("nil list without an error")
		}
		for _, g := range append(byMe, toMe...) {
			if g.ID == "" {
				t.Fatalf("grant without id: %+v", g)
			}
		}
		_, _ = decodeInvite(data)
	})
}

func FuzzDecodeCreateContact(f *testing.F) {
	addSeeds(f, `{"success":true,"data":{"success":true,"contact_id":"-1"}}`, `{"success":true,"data":{"success":true,"contact_id":1e3}}`,
		`{"success":true,"data":{"success":false,"error":7}}`)
	f.Fuzz(func(t *testing.T, body []byte) {
		data, _, err := decodeEnvelope(body)
		if err != nil {
			return
		}
		id, err := decodeCreateContact(data)
		if err == nil && id <= 0 {
			t.Fatalf("id %d without an error", id)
		}
		if err != nil && id != 0 {
			t.Fatalf("id %d with error %v", id, err)
		}
		var fail *addContactFailure
		if errors.As(err, &fail) && fail.msg == "" {
			t.Fatal("failure without a message")
		}
		_, _ = decodeSessionInfo(data)
	})
}

func FuzzDecodeError(f *testing.F) {
	addSeeds(f, `{"type":"x","title":"t","status":"400","errors":[{"pointer":1},null,"x"]}`, `{"retryAfter":"1e308"}`,
		`{"retryAfter":-5,"message":"\u0000\u001b[31m"}`, "<html>\xff\xfe</html>", "plain\ntext")
	f.Fuzz(func(t *testing.T, body []byte) {
		now := time.Date(2026, 2, 10, 0, 0, 0, 0, time.UTC)
		for _, status := range []int{400, 429, 503} {
			h := http.Header{"Retry-After": {string(body)}, "X-Ratelimit-Remaining": {"0"}, "X-Ratelimit-Reset": {string(body)}}
			e := decodeError("fuzz", status, h, body, now)
			if e == nil || e.HTTPStatus != status || e.Title == "" {
				t.Fatalf("error %+v", e)
			}
			if e.RetryAfter < 0 || e.RetryAfter > maxRetryAfter {
				t.Fatalf("RetryAfter %v out of range", e.RetryAfter)
			}
			if msg := e.Error(); len(msg) > 20000 {
				t.Fatalf("message of %d bytes", len(msg))
			}
		}
	})
}

func probeJSON(data []byte, v any) error { return json.Unmarshal(data, v) }
