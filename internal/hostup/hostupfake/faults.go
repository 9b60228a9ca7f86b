package hostupfake

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Faults are random misbehaviours, drawn from the seeded source for every request. Rates are
// probabilities in [0,1]; at most one of Drop, Error, Malformed, Truncate, AddContactFailure
// applies to a request (checked in that order).
type Faults struct {
	Latency time.Duration // added to every request
	Jitter  time.Duration // plus a uniform random [0, Jitter)
	// SpikeRate of requests are delayed by Spike more.
	SpikeRate float64
	Spike     time.Duration

	ErrorRate     float64 // answer with a status from ErrorStatuses and a legacy error body
	ErrorStatuses []int   // default 500, 502, 503
	DropRate      float64 // close the connection without an answer
	MalformedRate float64 // HTTP 200 with a body that is not the JSON envelope
	TruncateRate  float64 // the real answer, cut in half (complete HTTP message, broken JSON)
	// AddContactFailureRate of POST /api/teams answer HTTP 200 with data.success false and
	// create nothing.
	AddContactFailureRate float64
}

// Fault is one programmed misbehaviour (see Program). Set exactly one of Status, Drop,
// Malformed, Truncate, AddContactFailure; Latency may be combined with any.
type Fault struct {
	Status      int    // answer with this status; the legacy error body unless Body is set
	Body        string // raw body for Status (e.g. an HTML error page)
	ContentType string // for Body; "text/plain" when empty
	Drop        bool   // close the connection without an answer
	Malformed   bool   // HTTP 200 with a non-JSON body
	Truncate    bool   // the real answer cut in half
	// AddContactFailure (POST /api/teams only): HTTP 200 with data.success false.
	AddContactFailure bool
	// AfterApply lets the request take effect first and misbehaves afterwards: the caller
	// cannot tell that its write happened (the case that makes blind retries duplicate).
	AfterApply bool
	Latency    time.Duration
	// RetryAfter is the Retry-After header of a programmed 429 ("1" when empty), e.g. "3600"
	// for an account that turns every caller away for an hour.
	RetryAfter string
}

type programmed struct {
	key   string
	left  int
	fault Fault
}

// SetFaults replaces the random faults (the zero Faults turns them off).
func (s *Server) SetFaults(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = f
}

// Program makes the next n requests for key fail with f. key is a route as in Calls, e.g.
// "POST /api/teams", or "*" for any request. Programs are used in the order they were added.
func (s *Server) Program(key string, n int, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n > 0 {
		s.programmed = append(s.programmed, programmed{key: key, left: n, fault: f})
	}
}

// ClearFaults removes random and programmed faults.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = Faults{}
	s.programmed = nil
}

// pick chooses the fault of one request (caller holds s.mu).
func (s *Server) pick(key string) (Fault, bool) {
	for i := range s.programmed {
		p := &s.programmed[i]
		if p.key != key && p.key != "*" {
			continue
		}
		f := p.fault
		if p.left--; p.left == 0 {
			s.programmed = append(s.programmed[:i], s.programmed[i+1:]...)
		}
		return f, true
	}
	rf := s.faults
	var f Fault
	f.Latency = rf.Latency
	if rf.Jitter > 0 {
		f.Latency += time.Duration(s.rng.Int64N(int64(rf.Jitter)))
	}
	if rf.SpikeRate > 0 && s.rng.Float64() < rf.SpikeRate {
		f.Latency += rf.Spike
	}
	hit := func(rate float64) bool { return rate > 0 && s.rng.Float64() < rate }
	switch {
	case hit(rf.DropRate):
		f.Drop = true
	case hit(rf.ErrorRate):
		st := rf.ErrorStatuses
		if len(st) == 0 {
			st = []int{500, 502, 503}
		}
		f.Status = st[s.rng.IntN(len(st))]
	case hit(rf.MalformedRate):
		f.Malformed = true
	case hit(rf.TruncateRate):
		f.Truncate = true
	case key == "POST /api/teams" && hit(rf.AddContactFailureRate):
		f.AddContactFailure = true
	}
	return f, f != (Fault{})
}

// ServeHTTP runs one request: count, faults, rate limit, auth, then the route.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, pattern := s.mux.Handler(r)
	key := pattern
	if key == "" || key == "/" {
		key = r.Method + " " + r.URL.Path
	}

	s.mu.Lock()
	s.counts[key]++
	fault, faulty := s.pick(key)
	now := s.now()
	limited, rateHdr := s.rateCheck(now)
	variant := s.rng.IntN(len(malformedBodies))
	pre := faulty && !fault.AfterApply
	switch { // in the order the answer is chosen below
	case faulty && fault.Drop:
		s.tally("drop", r.Method)
	case faulty && fault.Status == http.StatusTooManyRequests, limited && !(pre && fault.Status != 0):
		s.tally("ratelimit", r.Method) // a programmed 429 is the rate limit's answer: 429 with Retry-After
	case faulty && fault.Status != 0:
		s.tally("status", r.Method)
	case faulty && (fault.Malformed || fault.Truncate):
		s.tally("malformed", r.Method)
	}
	if faulty && fault.Latency > s.faults.Latency+s.faults.Jitter {
		s.tally("spike", r.Method)
	}
	s.mu.Unlock()

	if fault.Latency > 0 && !sleep(r.Context(), fault.Latency) {
		return
	}
	if pre && fault.Drop {
		drop(w)
		return
	}
	if pre && fault.Status != 0 {
		s.writeFaultStatus(w, fault)
		return
	}
	if limited {
		copyHeader(w.Header(), rateHdr)
		s.writeTooMany(w, rateHdr.Get("Retry-After"))
		return
	}
	if !s.authorized(r) {
		s.writeError(w, http.StatusUnauthorized, "Invalid or missing API key")
		return
	}
	if pre && fault.AddContactFailure && key == "POST /api/teams" {
		s.writeOK(w, http.StatusOK, map[string]any{
			"success": false, "error": "Failed to add contact", "call": "addClientContact", "server_time": now.Unix(),
		})
		return
	}

	rec := &recorder{header: http.Header{}}
	r.Body = http.MaxBytesReader(rec, r.Body, 1<<20)
	s.mux.ServeHTTP(rec, r)

	if faulty && fault.AfterApply {
		switch {
		case fault.Drop:
			drop(w)
			return
		case fault.Status != 0:
			s.writeFaultStatus(w, fault)
			return
		}
	}
	body := rec.body.Bytes()
	status := rec.status
	if status == 0 {
		status = http.StatusOK
	}
	if faulty && fault.Malformed {
		rec.header.Set("Content-Type", "application/json")
		body, status = malformedBodies[variant], http.StatusOK
	}
	if faulty && fault.Truncate {
		body = body[:len(body)/2]
	}
	copyHeader(w.Header(), rec.header)
	copyHeader(w.Header(), rateHdr)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

var malformedBodies = [][]byte{
	[]byte(`<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>`),
	[]byte(`{"success":true,"timestamp":"2026-02-10T00:00:00.000Z","data":{"services":[{"id":`),
	[]byte(`not json at all`),
}

// rateCheck takes a token and returns the X-RateLimit-* (and Retry-After) headers to send
// (caller holds s.mu). It returns no headers when the limit is off.
func (s *Server) rateCheck(now time.Time) (bool, http.Header) {
	if s.limiter == nil {
		return false, nil
	}
	allowed := s.limiter.AllowN(now, 1)
	tokens := s.limiter.TokensAt(now)
	rps := float64(s.limiter.Limit())
	h := http.Header{}
	h.Set("X-RateLimit-Limit", strconv.Itoa(s.rateBurst))
	h.Set("X-RateLimit-Remaining", strconv.Itoa(max(0, int(math.Floor(tokens)))))
	full := time.Duration((float64(s.rateBurst) - tokens) / rps * float64(time.Second))
	h.Set("X-RateLimit-Reset", isoTime(now.Add(full)))
	if !allowed {
		wait := int(math.Ceil((1 - tokens) / rps))
		h.Set("Retry-After", strconv.Itoa(max(1, wait)))
		h.Set("X-RateLimit-Remaining", "0")
	}
	return !allowed, h
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// drop closes the connection without an answer.
func drop(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}

func copyHeader(dst, src http.Header) {
	for k, v := range src {
		dst[k] = v
	}
}

func (s *Server) writeFaultStatus(w http.ResponseWriter, f Fault) {
	if f.Body != "" {
		ct := f.ContentType
		if ct == "" {
			ct = "text/plain; charset=utf-8"
		}
		w.Header().Set("Content-Type", ct)
		w.WriteHeader(f.Status)
		_, _ = w.Write([]byte(f.Body))
		return
	}
	if f.Status == http.StatusTooManyRequests {
		ra := f.RetryAfter
		if ra == "" {
			ra = "1"
		}
		w.Header().Set("Retry-After", ra)
		s.writeTooMany(w, ra)
		return
	}
	s.writeError(w, f.Status, "Injected fault")
}

// writeTooMany writes HostUp's v1 429 body {error,message,retryAfter,requestId}.
func (s *Server) writeTooMany(w http.ResponseWriter, retryAfter string) {
	s.mu.Lock()
	rid := s.uuid()
	s.mu.Unlock()
	writeJSON(w, http.StatusTooManyRequests, map[string]any{
		"error": "Too Many Requests", "message": "Rate limit exceeded, try again later",
		"retryAfter": retryAfter, "requestId": rid,
	})
}

// writeError writes HostUp's v1 error envelope {code,error,message,requestId,timestamp}.
func (s *Server) writeError(w http.ResponseWriter, status int, msg string) {
	s.mu.Lock()
	rid, ts := s.uuid(), isoTime(s.now())
	s.mu.Unlock()
	writeJSON(w, status, map[string]any{
		"code":      strings.ToUpper(strings.ReplaceAll(http.StatusText(status), " ", "_")),
		"error":     http.StatusText(status),
		"message":   msg,
		"requestId": rid,
		"timestamp": ts,
	})
}

// writeOK writes HostUp's v1 success envelope {success,timestamp,requestId,data}.
func (s *Server) writeOK(w http.ResponseWriter, status int, data any) {
	s.mu.Lock()
	rid, ts := s.uuid(), isoTime(s.now())
	s.mu.Unlock()
	writeJSON(w, status, struct {
		Success   bool   `json:"success"`
		Timestamp string `json:"timestamp"`
		RequestID string `json:"requestId"`
		Data      any    `json:"data"`
	}{true, ts, rid, data})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, `{"code":"INTERNAL_SERVER_ERROR","error":"Internal Server Error","message":"hostupfake: cannot encode answer"}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// recorder buffers a route's answer so faults can replace or cut it.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}
