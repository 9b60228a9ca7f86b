package main

import (
	"bufio"
	"context"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	accessv1alpha1 "github.com/contactsync/contactsync/api/v1alpha1"
)

// apiKey is one series of contactsync_api_requests_total.
type apiKey struct{ provider, operation, code string }

// snapshot is the in-process Prometheus registry (controller-runtime's metrics.Registry, where
// the controllers' and the API clients' metrics live) and the fakes' counters at one moment.
type snapshot struct {
	at         time.Time
	api        map[apiKey]float64 // contactsync_api_requests_total
	reconciles map[string]float64 // controller_runtime_reconcile_total by controller
	k8s        map[string]float64 // rest_client_requests_total by method (this process: manager + bench)
	fakeCalls  map[string]int     // requests that arrived at each fake, by provider
	fakeWrites map[string]int     // the fakes' Writes()
	deferred   float64            // contactsync_api_deferred_total: reconciles handed back by a limiter
}

func (b *bench) snap() snapshot {
	s := snapshot{at: time.Now(), api: map[apiKey]float64{}, reconciles: map[string]float64{}, k8s: map[string]float64{},
		fakeCalls: map[string]int{}, fakeWrites: map[string]int{"hostup": b.hu.Writes(), "onlyoffice": b.oo.Writes()}}
	for _, counts := range []struct {
		provider string
		m        map[string]int
	}{{"hostup", b.hu.Counts()}, {"onlyoffice", b.oo.Counts()}} {
		for _, v := range counts.m {
			s.fakeCalls[counts.provider] += v
		}
	}
	families, err := ctrlmetrics.Registry.Gather()
	if err != nil {
		progress("cannot gather metrics: %v", err)
	}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			l := map[string]string{}
			for _, p := range m.GetLabel() {
				l[p.GetName()] = p.GetValue()
			}
			v := m.GetCounter().GetValue()
			switch f.GetName() {
			case "contactsync_api_requests_total":
				s.api[apiKey{l["provider"], l["operation"], l["code"]}] += v
			case "controller_runtime_reconcile_total":
				s.reconciles[l["controller"]] += v
			case "rest_client_requests_total":
				s.k8s[l["method"]] += v
			case "contactsync_api_deferred_total":
				s.deferred += v
			}
		}
	}
	return s
}

// delta is what happened between two snapshots.
type delta struct {
	seconds    float64
	api        map[apiKey]float64
	reconciles map[string]float64
	k8s        map[string]float64
	fakeCalls  map[string]int
	fakeWrites map[string]int
	deferred   float64
}

func (s snapshot) since(o snapshot) delta {
	d := delta{seconds: s.at.Sub(o.at).Seconds(), deferred: s.deferred - o.deferred, api: map[apiKey]float64{}, reconciles: map[string]float64{},
		k8s: map[string]float64{}, fakeCalls: map[string]int{}, fakeWrites: map[string]int{}}
	for k, v := range s.api {
		if x := v - o.api[k]; x != 0 {
			d.api[k] = x
		}
	}
	for k, v := range s.reconciles {
		d.reconciles[k] = v - o.reconciles[k]
	}
	for k, v := range s.k8s {
		d.k8s[k] = v - o.k8s[k]
	}
	for k, v := range s.fakeCalls {
		d.fakeCalls[k] = v - o.fakeCalls[k]
	}
	for k, v := range s.fakeWrites {
		d.fakeWrites[k] = v - o.fakeWrites[k]
	}
	return d
}

// calls sums the API calls of provider (every operation when op is "") with any answer.
func (d delta) calls(provider, op string) float64 {
	var n float64
	for k, v := range d.api {
		if k.provider == provider && (op == "" || k.operation == op) {
			n += v
		}
	}
	return n
}

// rateLimited counts 429 (HostUp) and 503 (ONLYOFFICE) answers of provider.
func (d delta) rateLimited(provider, op string) float64 {
	var n float64
	for k, v := range d.api {
		if k.provider == provider && (op == "" || k.operation == op) && (k.code == "429" || k.code == "503") {
			n += v
		}
	}
	return n
}

// writeOps are the operations that can change a provider's state.
var writeOps = map[string]bool{
	"set_permissions": true, "create_contact": true, "delete_contact": true, "create_grant": true, "delete_grant": true,
	"set_contact_access": true, "set_contacts_access": true,
}

func (d delta) writes() float64 {
	var n float64
	for k, v := range d.api {
		if writeOps[k.operation] {
			n += v
		}
	}
	return n
}

// readiness counts the benchmark's objects: how many exist, how many are Ready=True at their
// generation, and how many were synced (status.lastSyncTime) at or after since.
type readiness struct{ total, ready, syncedSince int }

// countReady lists ContactAccess and DelegatedGrant objects (in pages, to bound memory).
func (b *bench) countReady(ctx context.Context, since time.Time) (readiness, error) {
	var r readiness
	add := func(gen int64, conds []metav1.Condition, last *metav1.Time) {
		r.total++
		if c := meta.FindStatusCondition(conds, accessv1alpha1.TypeReady); c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == gen {
			r.ready++
		}
		if last != nil && !last.Time.Before(since) {
			r.syncedSince++
		}
	}
	cont := ""
	for {
		l := &accessv1alpha1.ContactAccessList{}
		if err := b.kube.List(ctx, l, client.InNamespace(namespace), client.Limit(500), client.Continue(cont)); err != nil {
			return r, err
		}
		for i := range l.Items {
			o := &l.Items[i]
			add(o.Generation, o.Status.Conditions, o.Status.LastSyncTime)
		}
		if cont = l.Continue; cont == "" {
			break
		}
	}
	for {
		l := &accessv1alpha1.DelegatedGrantList{}
		if err := b.kube.List(ctx, l, client.InNamespace(namespace), client.Limit(500), client.Continue(cont)); err != nil {
			return r, err
		}
		for i := range l.Items {
			o := &l.Items[i]
			add(o.Generation, o.Status.Conditions, o.Status.LastSyncTime)
		}
		if cont = l.Continue; cont == "" {
			break
		}
	}
	return r, nil
}

// waitUntil polls countReady until done says so, printing progress every 10 s.
func (b *bench) waitUntil(ctx context.Context, what string, since time.Time, done func(readiness) bool) (readiness, error) {
	every := 250 * time.Millisecond
	if n := b.cfg.N + b.cfg.M; n > 2000 {
		every = time.Duration(n/2000) * time.Second
	}
	lastLog := time.Now()
	for {
		r, err := b.countReady(ctx, since)
		if err == nil && done(r) {
			return r, nil
		}
		if time.Since(lastLog) >= 10*time.Second {
			progress("%s: %d/%d Ready, %d synced since the phase began", what, r.ready, r.total, r.syncedSince)
			lastLog = time.Now()
		}
		select {
		case <-ctx.Done():
			return r, errTimeout
		case <-time.After(every):
		}
	}
}

// process is this process's resource use.
type process struct {
	PeakRSSMiB float64 `json:"peakRSSMiB"` // VmHWM
	RSSMiB     float64 `json:"rssMiB"`     // VmRSS now
	CPUSeconds float64 `json:"cpuSeconds"` // user + system
}

func processNow() process {
	var p process
	if f, err := os.Open("/proc/self/status"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			k, v, ok := strings.Cut(sc.Text(), ":")
			if !ok {
				continue
			}
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			switch k {
			case "VmHWM":
				p.PeakRSSMiB = kb / 1024
			case "VmRSS":
				p.RSSMiB = kb / 1024
			}
		}
		_ = f.Close()
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		p.CPUSeconds = tv(ru.Utime) + tv(ru.Stime)
	}
	return p
}

func tv(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
