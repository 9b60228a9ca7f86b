package main

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	accessv1alpha1 "github.com/contactsync/contactsync/api/v1alpha1"
)

// report is everything the benchmark measured; it is printed as a table and as BENCH_JSON.
type report struct {
	Machine  machine         `json:"machine"`
	Config   *config         `json:"config"`
	Minimum  string          `json:"minimum"`
	Converge *convergeReport `json:"converge,omitempty"`
	Steady   *steadyReport   `json:"steady,omitempty"`
	Restart  *restartReport  `json:"restart,omitempty"`
	Latency  *latencyReport  `json:"applyToReady,omitempty"`
	Fairness *fairnessReport `json:"fairness,omitempty"`
	Process  process         `json:"process"` // at the end of the run
	Error    string          `json:"error,omitempty"`
}

type machine struct {
	CPUs        int     `json:"cpus"`
	MemTotalGiB float64 `json:"memTotalGiB"`
	GoVersion   string  `json:"goVersion"`
}

// opRow is one provider operation: calls made (any answer), the workload's minimum, and how
// many were answered 429/503.
type opRow struct {
	Provider    string  `json:"provider"`
	Operation   string  `json:"operation"`
	Calls       float64 `json:"calls"`
	Min         float64 `json:"min"`
	RateLimited float64 `json:"rateLimited"`
}

// accountRow sums one account (= one provider here).
type accountRow struct {
	Provider          string  `json:"provider"`
	Calls             float64 `json:"calls"`
	FakeCalls         int     `json:"fakeCalls"` // requests that arrived at the fake (cross-check)
	Min               float64 `json:"min"`
	ExtraPct          float64 `json:"extraPct"`
	RateLimited       float64 `json:"rateLimited"`
	LowerBoundSeconds float64 `json:"lowerBoundSeconds"` // Min / server rate
}

type convergeReport struct {
	Objects           int     `json:"objects"`
	Ready             int     `json:"ready"`
	CreateSeconds     float64 `json:"createSeconds"` // creating the objects in the API server
	Seconds           float64 `json:"seconds"`       // first create → all Ready
	LowerBoundSeconds float64 `json:"lowerBoundSeconds"`
	Ratio             float64 `json:"ratio"` // Seconds / LowerBoundSeconds
	Calls             float64 `json:"calls"`
	Min               float64 `json:"min"`
	ExtraPct          float64 `json:"extraPct"`
	CallsPerObject    float64 `json:"callsPerObject"`
	MinPerObject      float64 `json:"minPerObject"`
	RateLimited       float64 `json:"rateLimited"`
	RateLimitedPct    float64 `json:"rateLimitedPct"`
	// ONLYOFFICE writes: calls made (single + bulk PUT), the per-object minimum (one PUT per
	// differing contact) and the minimum with bulk PUTs (one per access set and 50 contacts).
	OnlyOfficeWriteCalls    float64            `json:"onlyofficeWriteCalls"`
	OnlyOfficeBulkPUTs      float64            `json:"onlyofficeBulkPUTs"`
	OnlyOfficeWritesMin     float64            `json:"onlyofficeWritesMin"`
	OnlyOfficeWritesMinBulk float64            `json:"onlyofficeWritesMinBulk"`
	Accounts                []accountRow       `json:"accounts"`
	Operations              []opRow            `json:"operations"`
	Reconciles              map[string]float64 `json:"reconciles"`
	Deferred                float64            `json:"deferred"`    // reconciles handed back by a limiter
	K8sRequests             map[string]float64 `json:"k8sRequests"` // this process's API-server requests by verb
	Process                 process            `json:"process"`
}

type steadyReport struct {
	Periods             int                `json:"periods"`
	PeriodSeconds       float64            `json:"periodSeconds"`
	Writes              float64            `json:"writes"`
	FakeWrites          map[string]int     `json:"fakeWrites"`
	ReadsPerPeriod      map[string]float64 `json:"readsPerPeriod"` // get_permissions / get_contact
	ExpectedReads       map[string]float64 `json:"expectedReadsPerPeriod"`
	GrantListsPerPeriod float64            `json:"grantListsPerPeriod"` // HostUp account
	CallsPerPeriod      map[string]float64 `json:"callsPerPeriod"`      // "provider operation"
	RateLimited         float64            `json:"rateLimited"`
	ReconcilesPerPeriod map[string]float64 `json:"reconcilesPerPeriod"`
	K8sPatchesPerPeriod float64            `json:"k8sPatchesPerPeriod"`
	StillReady          int                `json:"stillReady"`
}

type restartReport struct {
	Seconds     float64            `json:"seconds"` // new manager started → every object synced once
	Writes      float64            `json:"writes"`
	FakeWrites  map[string]int     `json:"fakeWrites"`
	Calls       map[string]float64 `json:"calls"` // "provider operation"
	RateLimited float64            `json:"rateLimited"`
	Reconciles  map[string]float64 `json:"reconciles"`
}

type latencyReport struct {
	Samples int       `json:"samples"`
	P50ms   float64   `json:"p50ms"`
	P99ms   float64   `json:"p99ms"`
	MaxMs   float64   `json:"maxMs"`
	HostUp  []float64 `json:"hostupMs"`
	OnlyOff []float64 `json:"onlyofficeMs"`
}

// bulkChunk is the most contacts the controller puts in one bulk PUT (controllers.coalesceChunk).
const bulkChunk = 50

const minimumText = "per ContactAccess: 1 read if it matches, read + write + verify read if it differs (one write per object, even where ONLYOFFICE could take a bulk PUT); " +
	"per DelegatedGrant: 1 create; shared: 1 grant list (HostUp) and 1 user lookup per distinct manager e-mail (ONLYOFFICE). " +
	"Counted from when the ProviderConfigs are Ready (their login/session check is excluded)."

// run executes the phases; rep is filled as far as the run got.
func run(ctx context.Context, cfg *config) (rep *report, err error) {
	rep = &report{Config: cfg, Minimum: minimumText, Machine: machineNow()}
	b, err := start(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer func() {
		progress("stopping")
		b.stop()
		rep.Process = processNow()
	}()

	progress("creating the ProviderConfigs")
	if err := b.createProviderConfigs(ctx); err != nil {
		return nil, err
	}
	if err := b.waitProviderConfigs(ctx); err != nil {
		return nil, err
	}

	// Convergence.
	base := b.snap()
	progress("creating %d ContactAccess and %d DelegatedGrant objects", cfg.N, cfg.M)
	if err := b.createObjects(ctx); err != nil {
		return nil, err
	}
	created := time.Now()
	total := cfg.N + cfg.M
	r, werr := b.waitUntil(ctx, "converging", base.at, func(r readiness) bool { return r.total == total && r.ready == total })
	end := b.snap()
	rep.Converge = b.convergeReport(end.since(base), created.Sub(base.at), r)
	progress("converged: %d/%d Ready after %.1fs (lower bound %.1fs)", r.ready, total, rep.Converge.Seconds, rep.Converge.LowerBoundSeconds)
	if werr != nil {
		return rep, fmt.Errorf("convergence: %d/%d Ready: %w", r.ready, total, werr)
	}

	if cfg.Steady > 0 {
		progress("observing the steady state for %d × %s", cfg.Steady, cfg.SyncInterval)
		s0 := b.snap()
		select {
		case <-ctx.Done():
			return rep, fmt.Errorf("steady state: %w", errTimeout)
		case <-time.After(time.Duration(cfg.Steady) * cfg.SyncInterval):
		}
		s1 := b.snap()
		r, _ := b.countReady(ctx, s0.at)
		rep.Steady = b.steadyReport(s1.since(s0), r)
	}

	if cfg.Samples > 0 {
		progress("timing apply-to-Ready of %d objects created one at a time", cfg.Samples)
		time.Sleep(2 * time.Second)
		lr, err := b.latency(ctx)
		rep.Latency = lr
		if err != nil {
			return rep, fmt.Errorf("apply-to-Ready: %w", err)
		}
	}
	if cfg.Restart {
		progress("restarting the manager (no drift)")
		b.stopManager()
		b.stopManager = nil
		r0 := b.snap()
		if err := b.startManager(ctx); err != nil {
			return rep, fmt.Errorf("cannot restart the manager: %w", err)
		}
		// Every object the run created: the N + M, and the latency samples if they ran. The new
		// manager's informers enqueue each object once, so it has observed them all when it has
		// run that many reconciles (a status is no longer written when nothing changed, so
		// lastSyncTime cannot tell).
		all := total + len(rep.latencySamples())
		_, werr := b.waitUntil(ctx, "restart", time.Now(), func(r readiness) bool {
			d := b.snap().since(r0)
			// Reconciles handed back by an account's limiter (their turn lies ahead) did not
			// observe anything: they are not counted.
			return r.total == all && r.ready == all && int(d.reconciles["contactaccess"]+d.reconciles["delegatedgrant"]-d.deferred) >= all
		})
		r1 := b.snap()
		rep.Restart = restartReportOf(r1.since(r0))
		if werr != nil {
			return rep, fmt.Errorf("restart: %w", werr)
		}
		progress("restart: every object synced after %.1fs, %v writes", rep.Restart.Seconds, rep.Restart.Writes)
	}
	if cfg.Fairness > 0 {
		fr, err := b.fairness(ctx, cfg.Fairness)
		rep.Fairness = fr
		if err != nil {
			return rep, err
		}
	}

	return rep, nil
}

// latencySamples lists the apply-to-Ready samples taken (none if that phase did not run).
func (r *report) latencySamples() []float64 {
	if r.Latency == nil {
		return nil
	}
	return append(append([]float64(nil), r.Latency.HostUp...), r.Latency.OnlyOff...)
}

// waitProviderConfigs waits until both ProviderConfigs are Ready.
func (b *bench) waitProviderConfigs(ctx context.Context) error {
	return b.waitReadyPCs(ctx, namespace, pcHostUp, pcOnlyOffic)
}

// minimum is the workload's minimum number of calls per provider operation.
func (b *bench) minimum() map[apiKey]float64 {
	w := b.work
	m := map[apiKey]float64{
		{"hostup", "get_permissions", ""}:        float64(w.matchH + 2*w.diffH),
		{"hostup", "set_permissions", ""}:        float64(w.diffH),
		{"hostup", "create_grant", ""}:           float64(b.cfg.M),
		{"onlyoffice", "get_contact", ""}:        float64(w.matchO + 2*w.diffO),
		{"onlyoffice", "set_contact_access", ""}: float64(w.diffO),
		{"onlyoffice", "get_user_by_email", ""}:  float64(len(w.emails)),
	}
	if b.cfg.M > 0 {
		m[apiKey{"hostup", "list_grants", ""}] = 1
	}
	return m
}

func (b *bench) convergeReport(d delta, createTime time.Duration, r readiness) *convergeReport {
	c := &convergeReport{Objects: b.cfg.N + b.cfg.M, Ready: r.ready, Seconds: d.seconds, CreateSeconds: createTime.Seconds(),
		Reconciles: d.reconciles, Deferred: d.deferred, K8sRequests: d.k8s, Process: processNow()}
	mins := b.minimum()
	c.Operations = opRows(d, mins)
	for _, p := range []string{"hostup", "onlyoffice"} {
		a := accountRow{Provider: p, Calls: d.calls(p, ""), FakeCalls: d.fakeCalls[p], RateLimited: d.rateLimited(p, "")}
		for k, v := range mins {
			if k.provider == p {
				a.Min += v
			}
		}
		a.ExtraPct = pct(a.Calls-a.Min, a.Min)
		a.LowerBoundSeconds = a.Min / float64(b.cfg.ServerRPS)
		c.Accounts = append(c.Accounts, a)
		c.Calls += a.Calls
		c.Min += a.Min
		c.RateLimited += a.RateLimited
		c.LowerBoundSeconds = max(c.LowerBoundSeconds, a.LowerBoundSeconds)
	}
	c.ExtraPct = pct(c.Calls-c.Min, c.Min)
	c.OnlyOfficeBulkPUTs = d.calls("onlyoffice", "set_contacts_access")
	c.OnlyOfficeWriteCalls = d.calls("onlyoffice", "set_contact_access") + c.OnlyOfficeBulkPUTs
	c.OnlyOfficeWritesMin = float64(b.work.diffO)
	for _, n := range b.work.diffOBySet {
		c.OnlyOfficeWritesMinBulk += float64((n + bulkChunk - 1) / bulkChunk)
	}
	c.RateLimitedPct = pct(c.RateLimited, c.Calls)
	if c.LowerBoundSeconds > 0 {
		c.Ratio = c.Seconds / c.LowerBoundSeconds
	}
	if c.Objects > 0 {
		c.CallsPerObject = c.Calls / float64(c.Objects)
		c.MinPerObject = c.Min / float64(c.Objects)
	}
	return c
}

// opRows lists every operation that was called or has a minimum, sorted.
func opRows(d delta, mins map[apiKey]float64) []opRow {
	keys := map[[2]string]bool{}
	for k := range d.api {
		keys[[2]string{k.provider, k.operation}] = true
	}
	for k := range mins {
		keys[[2]string{k.provider, k.operation}] = true
	}
	var rows []opRow
	for k := range keys {
		rows = append(rows, opRow{Provider: k[0], Operation: k[1], Calls: d.calls(k[0], k[1]),
			Min: mins[apiKey{k[0], k[1], ""}], RateLimited: d.rateLimited(k[0], k[1])})
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].Provider != rows[j].Provider {
			return rows[i].Provider < rows[j].Provider
		}
		return rows[i].Operation < rows[j].Operation
	})
	return rows
}

func (b *bench) steadyReport(d delta, r readiness) *steadyReport {
	periods := d.seconds / b.cfg.SyncInterval.Seconds()
	per := func(v float64) float64 { return round(v/periods, 1) }
	s := &steadyReport{Periods: b.cfg.Steady, PeriodSeconds: b.cfg.SyncInterval.Seconds(), Writes: d.writes(), FakeWrites: d.fakeWrites,
		ReadsPerPeriod: map[string]float64{
			"hostup":     per(d.calls("hostup", "get_permissions")),
			"onlyoffice": per(d.calls("onlyoffice", "get_contact")),
		},
		ExpectedReads:       map[string]float64{"hostup": float64(b.work.matchH + b.work.diffH), "onlyoffice": float64(b.work.matchO + b.work.diffO)},
		GrantListsPerPeriod: per(d.calls("hostup", "list_grants")),
		CallsPerPeriod:      map[string]float64{},
		RateLimited:         d.rateLimited("hostup", "") + d.rateLimited("onlyoffice", ""),
		ReconcilesPerPeriod: map[string]float64{},
		K8sPatchesPerPeriod: per(d.k8s["PATCH"]),
		StillReady:          r.ready,
	}
	for _, row := range opRows(d, nil) {
		s.CallsPerPeriod[row.Provider+" "+row.Operation] = per(row.Calls)
	}
	for k, v := range d.reconciles {
		s.ReconcilesPerPeriod[k] = per(v)
	}
	return s
}

func restartReportOf(d delta) *restartReport {
	r := &restartReport{Seconds: d.seconds, Writes: d.writes(), FakeWrites: d.fakeWrites, Calls: map[string]float64{},
		RateLimited: d.rateLimited("hostup", "") + d.rateLimited("onlyoffice", ""), Reconciles: d.reconciles}
	for _, row := range opRows(d, nil) {
		r.Calls[row.Provider+" "+row.Operation] = row.Calls
	}
	return r
}

// latency creates the sample objects one at a time and times create → Ready=True, watching the
// object so the moment is not limited by a poll.
func (b *bench) latency(ctx context.Context) (*latencyReport, error) {
	lr := &latencyReport{}
	var all []float64
	for k := range b.cfg.Samples {
		i := b.cfg.N + k
		ca := b.contactAccess(i)
		ms, err := b.applyToReady(ctx, ca)
		if err != nil {
			return lr, fmt.Errorf("%s: %w", ca.Name, err)
		}
		all = append(all, ms)
		if isHostUp(i) {
			lr.HostUp = append(lr.HostUp, ms)
		} else {
			lr.OnlyOff = append(lr.OnlyOff, ms)
		}
		time.Sleep(300 * time.Millisecond) // let the system go idle again
	}
	sort.Float64s(all)
	lr.Samples = len(all)
	lr.P50ms, lr.P99ms, lr.MaxMs = percentile(all, 0.50), percentile(all, 0.99), all[len(all)-1]
	return lr, nil
}

func (b *bench) applyToReady(ctx context.Context, ca *accessv1alpha1.ContactAccess) (float64, error) {
	w, err := b.kube.Watch(ctx, &accessv1alpha1.ContactAccessList{}, client.InNamespace(namespace),
		client.MatchingFields{"metadata.name": ca.Name})
	if err != nil {
		return 0, err
	}
	defer w.Stop()
	start := time.Now()
	if err := b.kube.Create(ctx, ca); err != nil {
		return 0, err
	}
	timeout := time.NewTimer(time.Minute)
	defer timeout.Stop()
	for {
		select {
		case ev, ok := <-w.ResultChan():
			if !ok {
				return 0, fmt.Errorf("the watch ended")
			}
			o, isCA := ev.Object.(*accessv1alpha1.ContactAccess)
			if !isCA {
				continue
			}
			if c := meta.FindStatusCondition(o.Status.Conditions, accessv1alpha1.TypeReady); c != nil &&
				c.Status == metav1.ConditionTrue && c.ObservedGeneration == o.Generation {
				return round(float64(time.Since(start).Microseconds())/1000, 1), nil
			}
		case <-timeout.C:
			return 0, fmt.Errorf("not Ready within a minute")
		case <-ctx.Done():
			return 0, errTimeout
		}
	}
}

// percentile is the nearest-rank percentile of sorted values.
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func pct(part, whole float64) float64 {
	if whole == 0 {
		return 0
	}
	return round(100*part/whole, 2)
}

func round(v float64, digits int) float64 {
	p := 1.0
	for range digits {
		p *= 10
	}
	return float64(int64(v*p+0.5)) / p
}

func machineNow() machine {
	m := machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version()}
	if raw, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(raw), "\n") {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
				m.MemTotalGiB = round(kb/1024/1024, 1)
			}
		}
	}
	return m
}
