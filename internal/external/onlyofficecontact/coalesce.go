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

// Coalescing defaults: how long the first write of a batch waits for others with the same
// access while the account is busy, and how many contacts one bulk PUT carries. On an idle
// account a write is sent at once (waiting would only add latency: nobody else is writing);
// on a busy one (calls queued in its limiter, reconciles waiting for tokens) the reconciles
// that write reach their write step a few per second, and a window of half a second gathers
// those with the same access into one bulk PUT.
const (
	coalesceWindow = 500 * time.Millisecond
	coalesceChunk  = 50
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
	// flying counts batches being sent.
	flying int
}

type accessBatch struct {
	shared   bool
	managers []string
	waiters  map[int64][]chan error
	full     chan struct{}
}

func newAccessBatcher(api onlyoffice.API) *accessBatcher {
	b := &accessBatcher{api: api, window: coalesceWindow, chunk: coalesceChunk, pending: map[string]*accessBatch{}}
	if l, ok := api.(interface{ Limiter() *apiclient.Limiter }); ok && l.Limiter() != nil {
		b.busy = l.Limiter().Busy
	}
	return b
}

func accessKey(shared bool, managers []string) string {
	return strconv.FormatBool(shared) + "|" + strings.Join(managers, ",")
}

// Set writes the access of one contact, possibly together with others. managers must be
// sorted. It returns this contact's outcome.
func (b *accessBatcher) Set(ctx context.Context, id int64, shared bool, managers []string) error {
	done := make(chan error, 1)
	key := accessKey(shared, managers)
	b.mu.Lock()
	batch := b.pending[key]
	if batch == nil {
		batch = &accessBatch{shared: shared, managers: slices.Clone(managers), waiters: map[int64][]chan error{}, full: make(chan struct{})}
		b.pending[key] = batch
		// Alone on an idle account (no other batch waiting or being sent, no calls queued):
		// send at once.
		window := b.window
		if b.busy != nil && len(b.pending) == 1 && b.flying == 0 && !b.busy() {
			window = 0
		}
		go b.flushAfter(key, batch, window)
	}
	batch.waiters[id] = append(batch.waiters[id], done)
	if len(batch.waiters) >= b.chunk {
		// Full: send it now; later writes start a new batch.
		delete(b.pending, key)
		close(batch.full)
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
	b.flying++
	b.mu.Unlock()
	b.flush(batch)
	b.mu.Lock()
	b.flying--
	b.mu.Unlock()
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
