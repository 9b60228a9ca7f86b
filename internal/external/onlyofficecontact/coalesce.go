package onlyofficecontact

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/contactsync/contactsync/internal/apiclient"
	"github.com/contactsync/contactsync/internal/onlyoffice"
)

// Coalescing defaults: how long the first write of a batch waits at most for others with the
// same access, how many contacts one bulk PUT carries, and how long a reconcile that found a
// difference counts as about to write.
//
// A write waits only when company is likely: another reconcile has just found a difference to
// write with the same access, or the account is busy (reconciles handed back by its limiter,
// calls queued), when reconciles reach their write step a few per second and half a second
// gathers them into one bulk PUT. Otherwise (an idle account, one object applied) it is sent at
// once: waiting would only add latency.
const (
	coalesceWindow = 500 * time.Millisecond
	coalesceChunk  = 50
	expectTTL      = 2 * time.Second
)

// accessBatcher coalesces ONLYOFFICE access writes: contacts whose desired access (shared
// flag and manager set) is identical go through one bulk PUT /crm/contact/access, so K
// distinct access sets over N contacts cost about K × ceil(N/chunk) writes instead of N.
//
// ONLYOFFICE runs a bulk PUT contact by contact and stops at the first failure, with the
// contacts before it changed and those after it untouched. The batcher therefore gives the
// failure to the contact that failed, success to those before it, and sends the rest again.
// Every caller still verifies its own contact by a read afterwards.
type accessBatcher struct {
	api    onlyoffice.API
	window time.Duration
	chunk  int
	// busy says whether to wait the window (nil: always).
	busy func() bool

	mu      sync.Mutex
	pending map[string]*accessBatch
	// expected: contacts whose reconcile found a difference and is about to write, with the
	// access key it will write and when it was found.
	expected map[int64]expectation
	now      func() time.Time
}

type expectation struct {
	key string
	at  time.Time
}

type accessBatch struct {
	shared   bool
	managers []string
	waiters  map[int64][]chan error
	full     chan struct{}
}

func newAccessBatcher(api onlyoffice.API) *accessBatcher {
	b := &accessBatcher{api: api, window: coalesceWindow, chunk: coalesceChunk, pending: map[string]*accessBatch{},
		expected: map[int64]expectation{}, now: time.Now}
	if l, ok := api.(interface{ Limiter() *apiclient.Limiter }); ok && l.Limiter() != nil {
		b.busy = l.Limiter().Busy
	}
	return b
}

func accessKey(shared bool, managers []string) string {
	return strconv.FormatBool(shared) + "|" + strings.Join(managers, ",")
}

// Expect tells the batcher that contact id's reconcile found a difference and is about to
// write this access (managers sorted): writes with the same access wait for it.
func (b *accessBatcher) Expect(id int64, shared bool, managers []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.expected[id] = expectation{key: accessKey(shared, managers), at: b.now()}
}

// othersExpectedLocked reports whether a contact other than those already in batch is about to
// write key; expectations older than expectTTL are forgotten.
func (b *accessBatcher) othersExpectedLocked(key string, batch *accessBatch) bool {
	now := b.now()
	found := false
	for id, ex := range b.expected {
		if now.Sub(ex.at) > expectTTL {
			delete(b.expected, id)
			continue
		}
		if _, in := batch.waiters[id]; ex.key == key && !in {
			found = true
		}
	}
	return found
}

// Set writes the access of one contact, possibly together with others. managers must be
// sorted. It returns this contact's outcome.
func (b *accessBatcher) Set(ctx context.Context, id int64, shared bool, managers []string) error {
	done := make(chan error, 1)
	key := accessKey(shared, managers)
	b.mu.Lock()
	delete(b.expected, id)
	batch := b.pending[key]
	fresh := batch == nil
	if fresh {
		batch = &accessBatch{shared: shared, managers: slices.Clone(managers), waiters: map[int64][]chan error{}, full: make(chan struct{})}
		b.pending[key] = batch
	}
	batch.waiters[id] = append(batch.waiters[id], done)
	// Wait for company only when some is likely (see coalesceWindow).
	company := b.othersExpectedLocked(key, batch) || b.busy == nil || b.busy()
	switch {
	case len(batch.waiters) >= b.chunk || !company:
		// Full, or nobody else is coming: send it now; later writes start a new batch.
		delete(b.pending, key)
		if fresh {
			go b.flushAfter(key, batch, 0)
		} else {
			close(batch.full)
		}
	case fresh:
		go b.flushAfter(key, batch, b.window)
	}
	b.mu.Unlock()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (b *accessBatcher) flushAfter(key string, batch *accessBatch, window time.Duration) {
	t := time.NewTimer(window)
	select {
	case <-t.C:
	case <-batch.full:
		t.Stop()
	}
	b.mu.Lock()
	if b.pending[key] == batch {
		delete(b.pending, key)
	}
	b.mu.Unlock()
	b.flush(batch)
}

// flush sends the batch in chunks. It runs detached from any one caller's context, bounded by
// the client's own request timeouts, so one caller giving up does not fail the others.
func (b *accessBatcher) flush(batch *accessBatch) {
	ids := make([]int64, 0, len(batch.waiters))
	for id := range batch.waiters {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	answer := func(id int64, err error) {
		for _, ch := range batch.waiters[id] {
			ch <- err
		}
	}
	ctx := context.Background()
	for len(ids) > 0 {
		n := min(len(ids), b.chunk)
		chunk := ids[:n]
		var err error
		if len(chunk) == 1 {
			err = b.api.SetContactAccess(ctx, chunk[0], batch.shared, batch.managers)
		} else {
			err = b.api.SetContactsAccess(ctx, chunk, batch.shared, batch.managers)
		}
		var be *onlyoffice.BatchError
		switch {
		case err == nil:
			for _, id := range chunk {
				answer(id, nil)
			}
			ids = ids[n:]
		case errors.As(err, &be) && be.FailedID() != 0:
			for _, id := range be.Changed() {
				answer(id, nil)
			}
			answer(be.FailedID(), be.Err)
			// Send what the server never reached again, with the rest of the queue.
			ids = append(be.Untouched(), ids[n:]...)
		default:
			// The whole chunk failed (rate limit, network) or the failing contact is unknown:
			// each caller retries on its own schedule and verifies by read.
			for _, id := range chunk {
				answer(id, err)
			}
			ids = ids[n:]
		}
	}
}
