package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
)

// printTable writes the human-readable report.
func printTable(out io.Writer, r *report) {
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	c := r.Config
	fmt.Fprintf(w, "\ncontactsync bench — %d CPUs, %.1f GiB, %s\n", r.Machine.CPUs, r.Machine.MemTotalGiB, r.Machine.GoVersion)
	fmt.Fprintf(w, "N=%d ContactAccess (%.0f%% matching), M=%d DelegatedGrants, latency %s, server limit %d req/s per account, concurrency %d, syncInterval %s\n",
		c.N, 100*c.MatchFraction, c.M, c.Latency, c.ServerRPS, c.Concurrency, c.SyncInterval)
	fmt.Fprintf(w, "minimum: %s\n", r.Minimum)

	if cv := r.Converge; cv != nil {
		fmt.Fprintf(w, "\nCONVERGENCE\t\n")
		fmt.Fprintf(w, "objects Ready\t%d / %d\n", cv.Ready, cv.Objects)
		fmt.Fprintf(w, "time to all Ready\t%.1f s (creating them took %.1f s)\n", cv.Seconds, cv.CreateSeconds)
		fmt.Fprintf(w, "rate-limit lower bound\t%.1f s (max over accounts of minimum calls / %d req/s)\n", cv.LowerBoundSeconds, c.ServerRPS)
		fmt.Fprintf(w, "measured / lower bound\t%.2f×\n", cv.Ratio)
		fmt.Fprintf(w, "API calls\t%.0f (minimum %.0f, %+.1f%%); %.2f per object (minimum %.2f)\n", cv.Calls, cv.Min, cv.ExtraPct, cv.CallsPerObject, cv.MinPerObject)
		fmt.Fprintf(w, "answered 429/503\t%.0f (%.2f%% of calls)\n", cv.RateLimited, cv.RateLimitedPct)
		fmt.Fprintf(w, "ONLYOFFICE write calls\t%.0f, of which %.0f bulk PUTs (one per differing contact: %.0f; with bulk PUTs of %d: %.0f)\n",
			cv.OnlyOfficeWriteCalls, cv.OnlyOfficeBulkPUTs, cv.OnlyOfficeWritesMin, bulkChunk, cv.OnlyOfficeWritesMinBulk)
		fmt.Fprintf(w, "reconciles\t%s (of which handed back by a limiter: %.0f)\n", kv(cv.Reconciles), cv.Deferred)
		fmt.Fprintf(w, "API-server requests (this process)\t%s\n", kv(cv.K8sRequests))
		fmt.Fprintf(w, "process peak RSS / CPU\t%.0f MiB / %.1f s\n", cv.Process.PeakRSSMiB, cv.Process.CPUSeconds)
		_ = w.Flush()

		fmt.Fprintf(w, "\nACCOUNT\tCALLS\tAT FAKE\tMINIMUM\tEXTRA\t429/503\tLOWER BOUND\n")
		for _, a := range cv.Accounts {
			fmt.Fprintf(w, "%s\t%.0f\t%d\t%.0f\t%+.1f%%\t%.0f\t%.1f s\n", a.Provider, a.Calls, a.FakeCalls, a.Min, a.ExtraPct, a.RateLimited, a.LowerBoundSeconds)
		}
		_ = w.Flush()
		fmt.Fprintf(w, "\nPROVIDER\tOPERATION\tCALLS\tMINIMUM\tEXTRA\t429/503\n")
		for _, o := range cv.Operations {
			fmt.Fprintf(w, "%s\t%s\t%.0f\t%.0f\t%+.0f\t%.0f\n", o.Provider, o.Operation, o.Calls, o.Min, o.Calls-o.Min, o.RateLimited)
		}
		_ = w.Flush()
	}

	if s := r.Steady; s != nil {
		fmt.Fprintf(w, "\nSTEADY STATE (%d periods of %.0f s)\t\n", s.Periods, s.PeriodSeconds)
		fmt.Fprintf(w, "writes\t%.0f (fakes: %s)\n", s.Writes, kvInt(s.FakeWrites))
		fmt.Fprintf(w, "reads per period\thostup %.1f (objects %.0f), onlyoffice %.1f (objects %.0f)\n",
			s.ReadsPerPeriod["hostup"], s.ExpectedReads["hostup"], s.ReadsPerPeriod["onlyoffice"], s.ExpectedReads["onlyoffice"])
		fmt.Fprintf(w, "grant list calls per period\t%.1f (HostUp account)\n", s.GrantListsPerPeriod)
		fmt.Fprintf(w, "calls per period\t%s\n", kv(s.CallsPerPeriod))
		fmt.Fprintf(w, "answered 429/503\t%.0f\n", s.RateLimited)
		fmt.Fprintf(w, "reconciles per period\t%s\n", kv(s.ReconcilesPerPeriod))
		fmt.Fprintf(w, "API-server PATCHes per period\t%.1f\n", s.K8sPatchesPerPeriod)
		fmt.Fprintf(w, "still Ready at the end\t%d\n", s.StillReady)
		_ = w.Flush()
	}

	if rs := r.Restart; rs != nil {
		fmt.Fprintf(w, "\nRESTART (no drift)\t\n")
		fmt.Fprintf(w, "every object synced after\t%.1f s\n", rs.Seconds)
		fmt.Fprintf(w, "writes\t%.0f (fakes: %s)\n", rs.Writes, kvInt(rs.FakeWrites))
		fmt.Fprintf(w, "calls\t%s\n", kv(rs.Calls))
		fmt.Fprintf(w, "answered 429/503\t%.0f\n", rs.RateLimited)
		_ = w.Flush()
	}

	if l := r.Latency; l != nil && l.Samples > 0 {
		fmt.Fprintf(w, "\nAPPLY-TO-READY (idle, %d objects one at a time, each needs read + write + verify read)\t\n", l.Samples)
		fmt.Fprintf(w, "p50 / p99 / max\t%.0f / %.0f / %.0f ms\n", l.P50ms, l.P99ms, l.MaxMs)
		fmt.Fprintf(w, "hostup samples ms\t%v\n", l.HostUp)
		fmt.Fprintf(w, "onlyoffice samples ms\t%v\n", l.OnlyOff)
		_ = w.Flush()
	}
	if f := r.Fairness; f != nil {
		fmt.Fprintf(w, "\nFAIRNESS (two more HostUp accounts; one answers 429 Retry-After: 3600 to every call)\t\n")
		fmt.Fprintf(w, "healthy account, %d objects alone\t%.1f s\n", f.Objects, f.AloneSeconds)
		fmt.Fprintf(w, "healthy account, %d new objects beside %d of the broken one\t%.1f s (%.2f× alone; converged %v)\n", f.Objects, f.Objects, f.BesideSeconds, f.Ratio, f.Converged)
		fmt.Fprintf(w, "calls that reached the broken account\t%d (%d of its objects report RateLimited)\n", f.BrokenCalls, f.BrokenRateLimited)
		_ = w.Flush()
	}
	fmt.Fprintf(w, "\nprocess at the end: peak RSS %.0f MiB, CPU %.1f s (manager + fakes + benchmark client; kube-apiserver and etcd are separate processes)\n",
		r.Process.PeakRSSMiB, r.Process.CPUSeconds)
	if r.Error != "" {
		fmt.Fprintf(w, "ERROR: %s\n", r.Error)
	}
	_ = w.Flush()
}

func kv(m map[string]float64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%g", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func kvInt(m map[string]int) string {
	f := map[string]float64{}
	for k, v := range m {
		f[k] = float64(v)
	}
	return kv(f)
}
