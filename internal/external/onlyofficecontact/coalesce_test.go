package onlyofficecontact

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/contactsync/contactsync/internal/onlyoffice"
)

// portal is an in-memory onlyoffice.API that records writes and fails bulk PUTs the way
// ONLYOFFICE does: contact by contact, stopping at the first failure.
type portal struct {
	onlyoffice.API
	mu     sync.Mutex
	calls  []string
	access map[int64]string
	fail   map[int64]error
}

func (p *portal) set(id int64, shared bool, managers []string) error {
	if err := p.fail[id]; err != nil {
		return err
	}
	p.access[id] = fmt.Sprint(shared, managers)
	return nil
}

func (p *portal) SetContactAccess(_ context.Context, id int64, shared bool, managers []string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, "single")
	return p.set(id, shared, managers)
}

func (p *portal) SetContactsAccess(_ context.Context, ids []int64, shared bool, managers []string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, fmt.Sprintf("bulk of %d", len(ids)))
	for i, id := range ids {
		if err := p.set(id, shared, managers); err != nil {
			return &onlyoffice.BatchError{IDs: ids, Index: i, Err: err}
		}
	}
	return nil
}

func TestAccessBatcher(t *testing.T) {
	errForbidden := errors.New("HTTP 403 Access Denied")
	cases := map[string]struct {
		reason    string
		chunk     int
		writes    map[int64][]string // contact → managers
		fail      map[int64]error
		wantCalls []string
		wantErr   map[int64]error
	}{
		"IdenticalAccessCoalesced": {
			reason:    "five contacts with one access set cost one bulk write",
			chunk:     50,
			writes:    map[int64][]string{1: {"a"}, 2: {"a"}, 3: {"a"}, 4: {"a"}, 5: {"a"}},
			wantCalls: []string{"bulk of 5"},
		},
		"DistinctSetsApart": {
			reason:    "K distinct access sets cost K writes",
			chunk:     50,
			writes:    map[int64][]string{1: {"a"}, 2: {"a"}, 3: {"b"}},
			wantCalls: []string{"bulk of 2", "single"},
		},
		"Chunked": {
			reason:    "N contacts cost ceil(N/chunk) writes",
			chunk:     2,
			writes:    map[int64][]string{1: {"a"}, 2: {"a"}, 3: {"a"}, 4: {"a"}, 5: {"a"}},
			wantCalls: []string{"bulk of 2", "bulk of 2", "single"},
		},
		"FailureAttributed": {
			reason:    "the failing contact gets the error, the ones before succeed, the rest are sent again",
			chunk:     50,
			writes:    map[int64][]string{1: {"a"}, 2: {"a"}, 3: {"a"}, 4: {"a"}},
			fail:      map[int64]error{2: errForbidden},
			wantCalls: []string{"bulk of 4", "bulk of 2"},
			wantErr:   map[int64]error{2: errForbidden},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			p := &portal{access: map[int64]string{}, fail: tc.fail}
			b := newAccessBatcher(p)
			b.chunk, b.window = tc.chunk, 300*time.Millisecond // wide: all writers arrive even on a loaded machine
			var wg sync.WaitGroup
			var mu sync.Mutex
			got := map[int64]error{}
			for id, m := range tc.writes {
				wg.Add(1)
				go func() {
					defer wg.Done()
					err := b.Set(context.Background(), id, false, m)
					mu.Lock()
					got[id] = err
					mu.Unlock()
				}()
			}
			wg.Wait()
			calls := append([]string(nil), p.calls...)
			sort.Strings(calls)
			want := append([]string(nil), tc.wantCalls...)
			sort.Strings(want)
			if diff := cmp.Diff(want, calls); diff != "" {
				t.Errorf("%s\ncalls: -want +got:\n%s", tc.reason, diff)
			}
			for id := range tc.writes {
				if !errors.Is(got[id], tc.wantErr[id]) || (tc.wantErr[id] == nil && got[id] != nil) {
					t.Errorf("%s\ncontact %d: error %v, want %v", tc.reason, id, got[id], tc.wantErr[id])
				}
				if tc.wantErr[id] == nil && p.access[id] == "" {
					t.Errorf("%s\ncontact %d was never written", tc.reason, id)
				}
			}
		})
	}
}

// On an idle account a write is sent at once; on a busy one it waits the window for others.
func TestCoalesceWaitsOnlyWhenBusy(t *testing.T) {
	for name, tc := range map[string]struct {
		busy     bool
		wantWait bool
	}{
		"idle: sent at once":      {busy: false, wantWait: false},
		"busy: waits for company": {busy: true, wantWait: true},
	} {
		t.Run(name, func(t *testing.T) {
			p := &portal{access: map[int64]string{}}
			b := newAccessBatcher(p)
			const window = 400 * time.Millisecond
			b.window = window
			b.busy = func() bool { return tc.busy }
			start := time.Now()
			if err := b.Set(context.Background(), 1, false, []string{"a"}); err != nil {
				t.Fatal(err)
			}
			waited := time.Since(start) >= window
			if waited != tc.wantWait {
				t.Errorf("the write took %s; waited the %s window: %v, want %v", time.Since(start), window, waited, tc.wantWait)
			}
		})
	}
}

// A write waits for another contact whose reconcile found the same access to write, and the
// batch goes as soon as that one joins (not at the end of the window).
func TestCoalesceWaitsForExpectedWriters(t *testing.T) {
	p := &portal{access: map[int64]string{}}
	b := newAccessBatcher(p)
	b.window = 5 * time.Second
	b.busy = func() bool { return false }
	b.Expect(1, false, []string{"a"})
	b.Expect(2, false, []string{"a"})
	b.Expect(3, false, []string{"b"}) // another access: not waited for
	start := time.Now()
	var wg sync.WaitGroup
	for _, id := range []int64{1, 2} {
		wg.Go(func() {
			if id == 2 {
				time.Sleep(50 * time.Millisecond)
			}
			if err := b.Set(context.Background(), id, false, []string{"a"}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %s: the batch should go when the expected writer joined", d)
	}
	if diff := cmp.Diff([]string{"bulk of 2"}, p.calls); diff != "" {
		t.Errorf("calls -want +got:\n%s", diff)
	}
}
