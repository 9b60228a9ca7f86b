package onlyoffice

import (
	"net/http"
	"os"
	"strings"
	"testing"
	"unicode/utf8"
)

func fuzzSeeds(f *testing.F) {
	seed, err := os.ReadFile("testdata/put_contact_access_response.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	for _, s := range []string{
		`{"count":1,"status":0,"statusCode":200,"response":{"id":42,"displayName":"Ada","isPrivate":true,"shareType":0,"accessList":[{"id":"a11ce000-0000-4000-8000-000000000001","displayName":"A"}],"canEdit":true}}`,
		`{"status":1,"statusCode":404,"error":{"message":"Not found","hresult":-2146233088,"data":{}}}`,
		`{"Status":0,"Response":{"Id":"6F1D2A3B-0C4D-4E5F-8A9B-0C1D2E3F4A5B","Status":1,"IsAdmin":true}}`,
		`{"status":0,"response":[{"id":"4a515a15-d4d6-4b8e-828e-e0586f18f3a3","displayName":"Unknown Unknown"}]}`,
		`<html><head><title>404</title></head></html>`,
		`Unauthorized`,
		`{"status":0,"response":{"id":`,
		`{"response":{"shareType":99999999999999999999}}`,
		``,
	} {
		f.Add([]byte(s))
	}
}

func FuzzDecodeEnvelope(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		env, err := decodeEnvelope(body)
		if err != nil {
			if env != nil {
				t.Fatal("envelope with error")
			}
			return
		}
		// Every payload the envelope yields must be safe to hand to the other decoders.
		_, _ = decodeContact(env.Response)
		_, _ = decodeUser(env.Response)
		_, _ = decodeManagers(env.Response)
		_, _ = decodeAuth(env.Response)
	})
}

func FuzzDecodeContact(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		raw := body
		if env, err := decodeEnvelope(body); err == nil && !isNull(env.Response) {
			raw = env.Response
		}
		c, err := decodeContact(raw)
		if err != nil {
			return
		}
		if c.ID <= 0 || c.ShareType < 0 || c.ShareType > 2 {
			t.Fatalf("invalid contact accepted: %+v", c)
		}
		for _, m := range c.AccessList {
			if m.ID != strings.ToLower(m.ID) {
				t.Fatalf("manager id not lowercased: %q", m.ID)
			}
		}
		ms, err := decodeManagers(raw)
		if err == nil && ms == nil {
			t.Fatal("decodeManagers returned nil without error")
		}
	})
}

func FuzzDecodeUser(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		raw := body
		if env, err := decodeEnvelope(body); err == nil && !isNull(env.Response) {
			raw = env.Response
		}
		u, err := decodeUser(raw)
		if err != nil {
			return
		}
		if !isGUID(u.ID) || u.ID != strings.ToLower(u.ID) {
			t.Fatalf("invalid user id accepted: %q", u.ID)
		}
	})
}

func FuzzDecodeError(f *testing.F) {
	seed, _ := os.ReadFile("testdata/put_contact_access_response.json")
	f.Add(404, "application/json", seed)
	f.Add(404, "text/html", []byte(`<html><head><title>ONLYOFFICE&trade; - Page not found</title></head></html>`))
	f.Add(401, "text/plain", []byte("Unauthorized"))
	f.Add(500, "application/json", []byte(`{"status":1,"statusCode":500,"error":{"message":"User authentication failed","hresult":-2146233087}}`))
	f.Add(503, "", []byte(""))
	f.Add(0, "", []byte("\x00\xff<title>\u2028x\n"))
	f.Fuzz(func(t *testing.T, status int, ctype string, body []byte) {
		h := http.Header{}
		h.Set("Content-Type", ctype)
		e := decodeError("get contact 1", status, h, body)
		if e.HTTPStatus != status || e.Op != "get contact 1" {
			t.Fatalf("status/op not kept: %+v", e)
		}
		if !utf8.ValidString(e.Message) {
			t.Fatalf("message is not valid UTF-8: %q", e.Message)
		}
		if len(e.Message) > maxMessage+len("HTML page: ")+len("…") {
			t.Fatalf("message too long: %d", len(e.Message))
		}
		for _, r := range e.Message {
			if r < ' ' || r == 0x7f {
				t.Fatalf("control character in message: %q", e.Message)
			}
		}
		if http.StatusText(status) != "" && e.Message == "" {
			t.Fatalf("empty message for status %d", status)
		}
		_ = e.Error()
	})
}
