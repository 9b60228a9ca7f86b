package apiclient

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// clock is a settable clock for the limiter's decisions (no test here sleeps on it).
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func fakeClocked(rps float64, burst int) (*Limiter, *clock) {
	c := &clock{t: time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)}
	l := NewLimiter(rps, burst)
	l.now = c.now
	return l, c
}

// quick bounds a Wait that must answer at once (a hold would run into it).
func quick(t *testing.T, ctx context.Context) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestPausedAccountHoldsNobody(t *testing.T) {
	l, c := fakeClocked(10, 10)
	until := c.now().Add(time.Hour)
	l.PauseUntil(until)
	for name, ctx := range map[string]context.Context{
		"first call of a reconcile": WithTicket(context.Background(), "a"),
		"no ticket":                 context.Background(),
	} {
		t.Run(name, func(t *testing.T) {
			err := l.Wait(quick(t, ctx))
			we := AsWait(err)
			if we == nil || !we.Paused || !we.Until.Equal(until) {
				t.Fatalf("Wait during a 1 h pause = %v, want a *WaitError paused until %s", err, until)
			}
		})
	}
	if !l.Busy() {
		t.Error("a paused account is not Busy")
	}
}

func TestShortPauseIsWaitedOut(t *testing.T) {
	l := NewLimiter(0, 1)
	l.PauseUntil(time.Now().Add(30 * time.Millisecond))
	start := time.Now()
	if err := l.Wait(quick(t, WithTicket(context.Background(), "a"))); err != nil {
		t.Fatalf("Wait: %v; a pause shorter than MaxHold is waited out", err)
	}
	if d := time.Since(start); d < 25*time.Millisecond {
		t.Errorf("returned after %s, before the pause ended", d)
	}
}

func TestPacedFirstCallGetsATurnAndComesBack(t *testing.T) {
	l, c := fakeClocked(1, 1) // one token a second
	t0 := c.now()
	if err := l.Wait(quick(t, WithTicket(context.Background(), "a"))); err != nil {
		t.Fatalf("first call: %v", err)
	}
	wantB := t0.Add(time.Second)
	errB := l.Wait(quick(t, WithTicket(context.Background(), "b")))
	if we := AsWait(errB); we == nil || we.Paused || !we.Until.Equal(wantB) {
		t.Fatalf("second reconcile: %v, want handed back until %s", errB, wantB)
	}
	if !l.Busy() {
		t.Error("Busy is false while a reconcile waits for its reserved token")
	}
	// c's turn is after b's, spaced by one reconcile's calls (1 so far) at 1/s, packed by
	// turnDensity.
	step := time.Duration(turnDensity * float64(time.Second))
	errC := l.Wait(quick(t, WithTicket(context.Background(), "c")))
	if we := AsWait(errC); we == nil || !we.Until.Equal(wantB.Add(step)) {
		t.Fatalf("third reconcile: %v, want handed back until %s", errC, wantB.Add(step))
	}
	// b comes back early (an event): same token, no new reservation.
	errB = l.Wait(quick(t, WithTicket(context.Background(), "b")))
	if we := AsWait(errB); we == nil || !we.Until.Equal(wantB) {
		t.Fatalf("b early: %v, want the same time %s", errB, wantB)
	}
	errD := l.Wait(quick(t, WithTicket(context.Background(), "d")))
	if we := AsWait(errD); we == nil || !we.Until.Equal(wantB.Add(2*step)) {
		t.Fatalf("fourth reconcile: %v, want %s (b's early return must not take another turn)", errD, wantB.Add(2*step))
	}
	// At its time b is served from its reservation at once.
	c.add(time.Second)
	if err := l.Wait(quick(t, WithTicket(context.Background(), "b"))); err != nil {
		t.Fatalf("b at its time: %v", err)
	}
	if _, ok := l.held["b"]; ok {
		t.Error("b's reservation was not used up")
	}
}

func TestLaterCallsOfAReconcileWaitInLine(t *testing.T) {
	l := NewLimiter(20, 1) // a token every 50 ms
	l.MaxHold = time.Millisecond
	ctx := quick(t, WithTicket(context.Background(), "a"))
	if err := l.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	// The reconcile's next call (its write) waits for its token instead of being handed back,
	// which would repeat the reconcile's read.
	if err := l.Wait(ctx); err != nil {
		t.Fatalf("second call of the same reconcile: %v, want a wait in line", err)
	}
	// Without a ticket (a ProviderConfig check, a batch flush) calls wait too.
	if err := l.Wait(quick(t, context.Background())); err != nil {
		t.Fatalf("call without a ticket: %v", err)
	}
	// A new reconcile is handed back.
	if err := l.Wait(quick(t, WithTicket(context.Background(), "b"))); AsWait(err) == nil {
		t.Fatalf("first call of another reconcile: %v, want a *WaitError", err)
	}
}

func TestWaitErrorIsNotSentThroughTheTransport(t *testing.T) {
	l := NewLimiter(1, 1)
	l.PauseUntil(time.Now().Add(time.Hour))
	tr := &Transport{Provider: "test", Limiter: l}
	_, err := tr.Do(context.Background(), "get_thing", nil)
	if !errors.Is(err, ErrNotSent) || AsWait(err) == nil {
		t.Fatalf("Do = %v, want a not-sent *WaitError", err)
	}
}

func TestWindowNeverExceedsItsCount(t *testing.T) {
	l := NewLimiter(0, 1) // no bucket: only the window paces
	const window = 200 * time.Millisecond
	l.SetWindow(3, window, 0)
	start := time.Now()
	for i := range 3 {
		if err := l.Wait(context.Background()); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if err := l.Wait(quick(t, context.Background())); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < window {
		t.Errorf("the 4th call went after %s, inside the window of the first three (%s)", d, window)
	}
}

func TestBudgetUsesTheWholeBudget(t *testing.T) {
	l, c := fakeClocked(20, 10)
	l.Budget(10, c.now().Add(500*time.Millisecond)) // 10 calls in 0.5 s = 20/s: the configured pace
	if got := l.bucket.Limit(); got != 20 {
		t.Errorf("remaining 10 over 0.5 s: pace %v, want 20 (no call kept back)", got)
	}
	l.Budget(5, c.now().Add(500*time.Millisecond))
	if got := l.bucket.Limit(); got != 10 {
		t.Errorf("remaining 5 over 0.5 s: pace %v, want 10", got)
	}
	l.Budget(0, c.now().Add(2*time.Second))
	if got := l.Paused(); !got.Equal(c.now().Add(2 * time.Second)) {
		t.Errorf("remaining 0: paused until %v, want the reset", got)
	}
}

func TestNoBurstSpacesCallsEvenly(t *testing.T) {
	l, _ := fakeClocked(20, 3)
	l.NoBurst()
	if got := l.bucket.Burst(); got != 1 {
		t.Errorf("burst after NoBurst = %d, want 1", got)
	}
}
