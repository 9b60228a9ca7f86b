package apiclient

import (
	"context"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Limiter is the client-side rate limiter of one account. It paces calls with a token bucket
// (the ProviderConfig's requestsPerSecond and burst), and adapts to what the server says:
//   - Budget(remaining, reset): the server's X-RateLimit-Remaining/-Reset. The bucket is slowed
//     so the remaining budget lasts until the reset instead of being spent and bounced off.
//   - PauseUntil(t): a 429/503 with Retry-After. Every caller waits until t; nobody retries
//     into the wall.
//
// Once the reset time passes, the configured rate is restored.
type Limiter struct {
	mu          sync.Mutex
	bucket      *rate.Limiter
	base        rate.Limit
	pauseUntil  time.Time
	budgetReset time.Time
	now         func() time.Time
}

// NewLimiter returns a limiter allowing rps requests per second with the given burst.
// rps <= 0 means unlimited (the server's answers still pause it).
func NewLimiter(rps float64, burst int) *Limiter {
	lim := rate.Limit(rps)
	if rps <= 0 {
		lim = rate.Inf
	}
	if burst < 1 {
		burst = 1
	}
	return &Limiter{bucket: rate.NewLimiter(lim, burst), base: lim, now: time.Now}
}

// Wait blocks until the next request may be sent, or ctx ends.
func (l *Limiter) Wait(ctx context.Context) error {
	for {
		l.mu.Lock()
		now := l.now()
		if !l.budgetReset.IsZero() && !now.Before(l.budgetReset) {
			l.bucket.SetLimitAt(now, l.base)
			l.budgetReset = time.Time{}
		}
		wait := l.pauseUntil.Sub(now)
		l.mu.Unlock()
		if wait <= 0 {
			break
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
	return l.bucket.Wait(ctx)
}

// PauseUntil stops all calls until t (a Retry-After or rate-limit reset).
func (l *Limiter) PauseUntil(t time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if t.After(l.pauseUntil) {
		l.pauseUntil = t
	}
}

// Budget tells the limiter the server allows `remaining` more calls until `reset`. The pace is
// lowered, never raised above the configured rate, so that the budget lasts the window.
func (l *Limiter) Budget(remaining int, reset time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	window := reset.Sub(now)
	if window <= 0 {
		return
	}
	if remaining <= 0 {
		if reset.After(l.pauseUntil) {
			l.pauseUntil = reset
		}
		return
	}
	// Keep one call in reserve so a neighbour (another replica, a person with curl) does not
	// push us over the edge.
	pace := rate.Limit(math.Max(float64(remaining)-1, 0.5) / window.Seconds())
	if pace < l.base {
		l.bucket.SetLimitAt(now, pace)
		l.budgetReset = reset
	} else if !l.budgetReset.IsZero() {
		l.bucket.SetLimitAt(now, l.base)
		l.budgetReset = time.Time{}
	}
}

// Paused reports until when the limiter is paused (zero if it is not).
func (l *Limiter) Paused() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.now().Before(l.pauseUntil) {
		return l.pauseUntil
	}
	return time.Time{}
}
