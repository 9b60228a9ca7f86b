package connection

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/contactsync/contactsync/internal/hostup"
)

// GrantsByState gauges the delegated grants of each HostUp account by state, as last listed.
var GrantsByState = prometheus.NewGaugeVec(prometheus.GaugeOpts{
	Name: "contactsync_delegated_grants",
	Help: "Delegated-access grants in each HostUp account by state, and whether a DelegatedGrant declares them.",
}, []string{"namespace", "provider_config", "state", "declared"})

func init() { ctrlmetrics.Registry.MustRegister(GrantsByState) }

// grantCache is the one shared observation of an account's delegated grants: every
// DelegatedGrant (and the audit) of the account reads it, and it is refreshed at most once
// per poll interval — or on demand right after a write of ours — with concurrent readers
// waiting for one in-flight list call instead of each making their own.
type grantCache struct {
	mu       sync.Mutex
	fetched  time.Time
	byMe     []hostup.Grant
	valid    bool
	inflight chan struct{}
	err      error
}

// Grants returns the account's grants, listing them when the copy is older than maxAge
// (or was invalidated).
func (c *Connection) Grants(ctx context.Context, maxAge time.Duration, now time.Time) ([]hostup.Grant, time.Time, error) {
	g := &c.account().grants
	for {
		g.mu.Lock()
		if g.valid && now.Sub(g.fetched) < maxAge {
			out, at := g.byMe, g.fetched
			g.mu.Unlock()
			return out, at, nil
		}
		if g.inflight != nil {
			wait := g.inflight
			g.mu.Unlock()
			select {
			case <-wait:
			case <-ctx.Done():
				return nil, time.Time{}, ctx.Err()
			}
			g.mu.Lock()
			err, valid, out, at := g.err, g.valid, g.byMe, g.fetched
			g.mu.Unlock()
			if err != nil {
				return nil, time.Time{}, err
			}
			if valid {
				return out, at, nil
			}
			continue
		}
		done := make(chan struct{})
		g.inflight = done
		g.mu.Unlock()

		byMe, _, err := c.HostUp.ListGrants(ctx)
		g.mu.Lock()
		g.inflight, g.err = nil, err
		if err == nil {
			// Stamped with the time the list was asked for, so it is never fresher than it is.
			g.byMe, g.fetched, g.valid = byMe, now, true
		}
		g.mu.Unlock()
		close(done)
		if err != nil {
			return nil, time.Time{}, err
		}
		return byMe, now, nil
	}
}

// AddGrant puts a grant we just created into the shared copy, so that nobody lists the account
// again only to find it.
func (c *Connection) AddGrant(g hostup.Grant) {
	gc := &c.account().grants
	gc.mu.Lock()
	defer gc.mu.Unlock()
	if gc.valid {
		gc.byMe = append(slices.Clone(gc.byMe), g)
	}
}

// InvalidateGrants makes the next Grants call list again (after a write of ours).
func (c *Connection) InvalidateGrants() {
	gc := &c.account().grants
	gc.mu.Lock()
	gc.valid = false
	gc.mu.Unlock()
}
