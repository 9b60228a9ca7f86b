package apiclient

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// DefaultMaxHold is the longest a reconcile waits in an account's limiter before it is handed
// back to its queue (see Limiter).
const DefaultMaxHold = 100 * time.Millisecond

// Limiter is the client-side rate limiter of one account. It paces calls with a token bucket
// (the ProviderConfig's requestsPerSecond and burst), optionally a sliding window (at most n
// calls in any window, for a provider that counts calls in fixed windows), and adapts to what
// the server says:
//   - Budget(remaining, reset): the server's X-RateLimit-Remaining/-Reset. The bucket is slowed
//     so the remaining budget lasts until the reset instead of being spent and bounced off.
//   - PauseUntil(t): a 429/503 with Retry-After. Nobody calls before t; nobody retries into
//     the wall.
//
// Once the reset time passes, the configured rate is restored.
//
// Fairness: a call never holds its caller longer than MaxHold for an account that must wait.
//   - During a pause every call returns at once with a *WaitError (marked NotSent).
//   - A call whose context carries a fresh Ticket (the first call of a reconcile) and whose
//     token is further away than MaxHold returns a *WaitError giving the reconcile a turn:
//     turns are spaced by the calls a reconcile makes on average at the current pace, so
//     when the reconcile comes back (it requeues itself for that time) its token is about
//     free. So an account that is slow or paused occupies no workers, and the other
//     accounts' objects run at full speed.
//   - Later calls of the same reconcile (its write, its verify read) wait in line: they are
//     bounded by the few reservations within MaxHold ahead of them, and handing them back
//     would repeat the reconcile's first read.
type Limiter struct {
	mu          sync.Mutex
	bucket      *rate.Limiter
	base        rate.Limit
	pauseUntil  time.Time
	budgetReset time.Time
	now         func() time.Time

	// MaxHold: see the type's comment; DefaultMaxHold when zero.
	MaxHold time.Duration

	// held: the turns of reconciles handed back, by ticket key; lastTurn the latest given.
	held      map[string]time.Time
	lastTurn  time.Time
	lastSweep time.Time
	// calls and firsts (first calls of reconciles) estimate the calls per reconcile.
	calls, firsts float64

	// window: at most winN sends in any winLen+winMargin (zero winN: off). sends is a ring of
	// the last winN send times, next its oldest.
	winN      int
	winLen    time.Duration
	winMargin time.Duration
	sends     []time.Time
	next      int
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

// SetWindow adds a sliding window: at most n calls are sent in any period of window+margin.
// A server that counts calls in fixed windows of that length (ONLYOFFICE: 500 per 10 s) then
// never sees more than n in one of its windows, wherever its windows begin; margin absorbs
// the variation of the network latency between our clock and the server's. n <= 0 removes it.
func (l *Limiter) SetWindow(n int, window, margin time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n <= 0 || window <= 0 {
		l.winN, l.sends = 0, nil
		return
	}
	l.winN, l.winLen, l.winMargin = n, window, margin
	l.sends, l.next = make([]time.Time, n), 0
}

// WaitError says a call was not sent because its account must wait until Until. Paused means
// the server asked for the wait (Retry-After, an exhausted budget); otherwise Until is the
// reconcile's turn under the client's own pacing (kept for its ticket).
type WaitError struct {
	Until  time.Time
	Paused bool
}

func (e *WaitError) Error() string {
	if e.Paused {
		return fmt.Sprintf("the provider asked to wait until %s; no call was sent", e.Until.UTC().Format(time.RFC3339))
	}
	return fmt.Sprintf("waiting for this account's rate limit until %s; no call was sent", e.Until.UTC().Format(time.RFC3339Nano))
}

// AsWait returns the *WaitError in err's chain, or nil.
func AsWait(err error) *WaitError {
	var we *WaitError
	if errors.As(err, &we) {
		return we
	}
	return nil
}

// Ticket identifies the reconcile a call belongs to (see Limiter). Only its first call may be
// handed back.
type Ticket struct {
	key  string
	used bool
	// counted: this reconcile's calls were counted as one reconcile (Limiter.firsts).
	counted bool
}

type ticketKey struct{}

// WithTicket returns ctx carrying a fresh ticket for the reconcile of key (unique per object
// and kind).
func WithTicket(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, ticketKey{}, &Ticket{key: key})
}

func ticketFrom(ctx context.Context) *Ticket {
	t, _ := ctx.Value(ticketKey{}).(*Ticket)
	return t
}

func (l *Limiter) maxHold() time.Duration {
	if l.MaxHold > 0 {
		return l.MaxHold
	}
	return DefaultMaxHold
}

// Wait blocks until the next request may be sent, or ctx ends, or returns a *WaitError (see
// the type's comment).
func (l *Limiter) Wait(ctx context.Context) error {
	tk := ticketFrom(ctx)
	first := tk != nil && !tk.used
	if tk != nil {
		tk.used = true
	}
	for {
		l.mu.Lock()
		now := l.now()
		if !l.budgetReset.IsZero() && !now.Before(l.budgetReset) {
			l.bucket.SetLimitAt(now, l.base)
			l.budgetReset = time.Time{}
		}
		if wait := l.pauseUntil.Sub(now); wait > 0 {
			until := l.pauseUntil
			l.mu.Unlock()
			if wait > l.maxHold() {
				return &WaitError{Until: until, Paused: true}
			}
			if err := sleep(ctx, wait); err != nil {
				return err
			}
			continue
		}
		if first {
			// Came back before its turn (an event woke it): hand it back again, same turn.
			if at, ok := l.held[tk.key]; ok && at.Sub(now) > l.maxHold() {
				l.mu.Unlock()
				return &WaitError{Until: at}
			}
		}
		r := l.bucket.ReserveN(now, 1)
		if !r.OK() {
			l.mu.Unlock()
			return fmt.Errorf("rate limiter: cannot reserve a token")
		}
		delay := r.DelayFrom(now)
		if first && delay > l.maxHold() {
			// Hand it back with a turn: the turns of handed-back reconciles are spaced by the
			// calls a reconcile makes on average, so that when each comes back its token is
			// (about) free. Nothing is reserved in the bucket: the calls of reconciles under
			// way never queue behind reconciles that are not.
			r.CancelAt(now)
			at := now.Add(delay)
			if next := l.lastTurn.Add(l.spacingLocked()); next.After(at) {
				at = next
			}
			l.lastTurn = at
			if l.held == nil {
				l.held = map[string]time.Time{}
			}
			l.held[tk.key] = at
			l.sweepLocked(now)
			l.mu.Unlock()
			return &WaitError{Until: at}
		}
		if first {
			delete(l.held, tk.key)
		}
		if tk != nil && !tk.counted {
			tk.counted = true
			l.firsts++
		}
		l.calls++
		if l.firsts > 1000 {
			// Keep the average recent.
			l.calls, l.firsts = l.calls/2, l.firsts/2
		}
		if delay > 0 && ctx.Err() == nil {
			if dl, ok := ctx.Deadline(); ok && now.Add(delay).After(dl) {
				r.CancelAt(now)
				l.mu.Unlock()
				return fmt.Errorf("rate limiter: the wait of %s exceeds the context deadline", delay)
			}
		}
		l.mu.Unlock()
		if err := sleep(ctx, delay); err != nil {
			r.Cancel()
			return err
		}
		return l.windowWait(ctx)
	}
}

// windowWait holds the call until the sliding window has room, then records it as sent.
func (l *Limiter) windowWait(ctx context.Context) error {
	for {
		l.mu.Lock()
		if l.winN == 0 {
			l.mu.Unlock()
			return nil
		}
		now := l.now()
		free := l.sends[l.next].Add(l.winLen + l.winMargin)
		if l.sends[l.next].IsZero() || !now.Before(free) {
			l.sends[l.next] = now
			l.next = (l.next + 1) % l.winN
			l.mu.Unlock()
			return nil
		}
		l.mu.Unlock()
		if err := sleep(ctx, free.Sub(now)); err != nil {
			return err
		}
	}
}

// sweepLocked forgets turns nobody came back for (the object was deleted, say) a minute after
// their time.
func (l *Limiter) sweepLocked(now time.Time) {
	if now.Sub(l.lastSweep) < 10*time.Second {
		return
	}
	l.lastSweep = now
	for k, at := range l.held {
		if now.Sub(at) > time.Minute {
			delete(l.held, k)
		}
	}
}

// turnDensity packs turns a little closer than the average reconcile's calls need: a turn
// nobody uses is capacity lost, while a reconcile that comes back to a busy account waits at
// most MaxHold (the bucket's burst absorbs the rest) or takes a later turn.
const turnDensity = 0.9

// spacingLocked is the time one reconcile's calls take at the current pace (× turnDensity).
func (l *Limiter) spacingLocked() time.Duration {
	lim := l.bucket.Limit()
	if lim == rate.Inf || lim <= 0 {
		return 0
	}
	per := 1.0
	if l.firsts > 0 {
		per = max(1, l.calls/l.firsts)
	}
	return time.Duration(turnDensity * per / float64(lim) * float64(time.Second))
}

// HoldTicket makes the next call of ctx's reconcile wait in line instead of being handed back:
// for a call that must not be separated from what preceded it (a create after its intent was
// recorded).
func HoldTicket(ctx context.Context) {
	if tk := ticketFrom(ctx); tk != nil {
		tk.used = true
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// NoBurst lowers the burst to 1 for good (a provider that counts calls in fixed windows
// answered that one was too many): calls are then evenly spaced at the rate.
func (l *Limiter) NoBurst() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.bucket.Burst() > 1 {
		l.bucket.SetBurstAt(l.now(), 1)
	}
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
// lowered, never raised above the configured rate, so that the budget lasts the window; the
// whole budget is used ("remaining" calls spread over the time to the reset), none is kept back.
// This reads the headers as a fixed window's (what remains until the reset); a server whose
// budget refills continuously allows at least that much, so the reading is safe for both.
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
	pace := rate.Limit(math.Max(float64(remaining), 0.5) / window.Seconds())
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

// Busy reports whether the account is saturated: paused, calls queued ahead of now, or
// reconciles handed back with turns still to come. A writer that gathers calls (the
// ONLYOFFICE bulk PUT) waits for company only then; on an idle account it sends at once.
func (l *Limiter) Busy() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	return now.Before(l.pauseUntil) || l.bucket.TokensAt(now) < 0 || l.lastTurn.After(now)
}
