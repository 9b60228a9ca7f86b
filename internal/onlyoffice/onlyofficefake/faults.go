package onlyofficefake

import (
	"bytes"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Faults configures deterministic fault injection. Probabilities are per request, drawn from
// the server's seeded source in arrival order (so a sequential client sees the same faults on
// every run with the same seed). Pre-processing faults (drop, HTML page, error status) answer
// before the request is handled: nothing changes. Malformed and truncated bodies are applied
// to the real answer after the request was handled: a write has happened.
type Faults struct {
	Latency       time.Duration // added to every request
	SpikeRate     float64       // probability of an extra Spike of latency
	Spike         time.Duration
	ErrorRates    map[int]float64 // HTTP status -> probability of answering it instead (502/504 as HTML, 401 as plain text, 429 with Retry-After: 1, others as envelopes)
	DropRate      float64         // close the connection without an answer
	HTMLRate      float64         // a proxy's HTML 502 page
	MalformedRate float64         // replace the answer's body with invalid JSON (status kept)
	TruncateRate  float64         // send half the body with the full Content-Length (the client sees an unexpected EOF)
	// Paths limits faults to requests whose URL path starts with one of these prefixes; all
	// requests when empty.
	Paths []string
}

func (f Faults) clone() Faults {
	if f.ErrorRates != nil {
		m := make(map[int]float64, len(f.ErrorRates))
		for k, v := range f.ErrorRates {
			m[k] = v
		}
		f.ErrorRates = m
	}
	f.Paths = append([]string(nil), f.Paths...)
	return f
}

func (f Faults) applies(path string) bool {
	if len(f.Paths) == 0 {
		return true
	}
	for _, p := range f.Paths {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

// faultPlan is what the draws decided for one request.
type faultPlan struct {
	delay     time.Duration
	drop      bool
	html      bool
	status    int
	malformed bool
	truncate  bool
}

// planFaults draws the faults of one request. Called with s.mu held. The draws are made in a
// fixed order and always all of them, so one request's outcome does not shift the next's.
func (s *Server) planFaults(path string) faultPlan {
	f := s.faults
	var p faultPlan
	if !f.applies(path) {
		return p
	}
	p.delay = f.Latency
	if s.rng.Float64() < f.SpikeRate {
		p.delay += f.Spike
	}
	p.drop = s.rng.Float64() < f.DropRate
	p.html = s.rng.Float64() < f.HTMLRate
	codes := make([]int, 0, len(f.ErrorRates))
	for c := range f.ErrorRates {
		codes = append(codes, c)
	}
	sort.Ints(codes)
	for _, c := range codes {
		if s.rng.Float64() < f.ErrorRates[c] && p.status == 0 {
			p.status = c
		}
	}
	p.malformed = s.rng.Float64() < f.MalformedRate
	p.truncate = s.rng.Float64() < f.TruncateRate
	return p
}

// dropConnection closes the connection without an answer.
func dropConnection(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

// writeInjectedStatus answers an injected error status.
func writeInjectedStatus(w http.ResponseWriter, code int) {
	switch code {
	case http.StatusBadGateway, http.StatusGatewayTimeout:
		writeHTML(w, code, nginxPage(code))
	case http.StatusUnauthorized:
		writeUnauthorized(w, false, "")
	case http.StatusTooManyRequests:
		w.Header().Set("Retry-After", "1")
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(code)
		_, _ = w.Write([]byte(http.StatusText(code)))
	default:
		writeError(w, code, http.StatusText(code), hresultDefault)
	}
}

func nginxPage(code int) string {
	t := strconv.Itoa(code) + " " + http.StatusText(code)
	return fmt.Sprintf("<html>\r\n<head><title>%s</title></head>\r\n<body>\r\n<center><h1>%s</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n", t, t)
}

// malform returns an invalid-JSON variant of body.
func malform(body []byte) []byte {
	if i := bytes.IndexByte(body, ':'); i > 0 {
		out := append([]byte(nil), body[:i+1]...)
		return append(out, []byte(" <!-- garbage ,,}")...)
	}
	return []byte(`{"status":0,"response":`)
}
