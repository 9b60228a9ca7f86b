package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// sweepRow is one size of the scale sweep.
type sweepRow struct {
	N, M           int
	Seconds        float64
	LowerBound     float64
	Ratio          float64
	Calls          float64
	CallsPerObject float64
	ExtraPct       float64
	RateLimitedPct float64
	PeakRSSMiB     float64
	CPUSeconds     float64
	CPUmsPerObject float64
	Error          string
}

// sweep runs this program once per size in cfg.Sweep, each in a fresh process (so that peak
// RSS is the size's own), convergence only, and prints the table and one BENCH_SWEEP_JSON line.
func sweep(cfg *config) int {
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return exitSetup
	}
	var rows []sweepRow
	code := exitOK
	for _, f := range strings.Split(cfg.Sweep, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 2 {
			fmt.Fprintf(os.Stderr, "bench: -sweep: %q is not a size\n", f)
			return exitSetup
		}
		m := n / 10
		args := []string{"-n", strconv.Itoa(n), "-m", strconv.Itoa(m), "-json-only", "-steady", "0", "-samples", "0",
			"-restart=false", "-fairness", "0", "-latency", cfg.Latency.String(), "-server-rps", strconv.Itoa(cfg.ServerRPS),
			"-concurrency", strconv.Itoa(cfg.Concurrency), "-sync-interval", cfg.SyncInterval.String(),
			"-oo-window", cfg.OOWindow.String(), "-timeout", cfg.Timeout.String(), "-crd", cfg.CRDDir}
		if cfg.MemLimitMiB > 0 {
			args = append(args, "-memlimit-mib", strconv.Itoa(cfg.MemLimitMiB))
		}
		if cfg.ClientBurst > 0 {
			args = append(args, "-client-burst", strconv.Itoa(cfg.ClientBurst))
		}
		progress("sweep: N=%d M=%d", n, m)
		cmd := exec.Command(exe, args...)
		cmd.Stderr = os.Stderr
		var out bytes.Buffer
		cmd.Stdout = &out
		start := time.Now()
		runErr := cmd.Run()
		row := sweepRow{N: n, M: m}
		var rep report
		sc := bufio.NewScanner(&out)
		sc.Buffer(make([]byte, 1<<20), 16<<20)
		for sc.Scan() {
			if line, ok := strings.CutPrefix(sc.Text(), "BENCH_JSON "); ok {
				_ = json.Unmarshal([]byte(line), &rep)
			}
		}
		if c := rep.Converge; c != nil {
			row.Seconds, row.LowerBound, row.Ratio = c.Seconds, c.LowerBoundSeconds, c.Ratio
			row.Calls, row.CallsPerObject, row.ExtraPct, row.RateLimitedPct = c.Calls, c.CallsPerObject, c.ExtraPct, c.RateLimitedPct
		}
		row.PeakRSSMiB, row.CPUSeconds = rep.Process.PeakRSSMiB, rep.Process.CPUSeconds
		if n+m > 0 {
			row.CPUmsPerObject = 1000 * row.CPUSeconds / float64(n+m)
		}
		if runErr != nil || rep.Error != "" {
			row.Error = strings.TrimSpace(rep.Error + " " + fmt.Sprint(runErr))
			code = exitSetup
		}
		progress("sweep: N=%d done in %s", n, time.Since(start).Round(time.Second))
		rows = append(rows, row)
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "N\tM\ttime to all Ready s\tlower bound s\tratio\tcalls\tcalls/object\tbeyond min %%\t429/503 %%\tpeak RSS MiB\tCPU s\tCPU ms/object\t\n")
	for _, r := range rows {
		fmt.Fprintf(w, "%d\t%d\t%.1f\t%.1f\t%.2f\t%.0f\t%.2f\t%+.1f\t%.2f\t%.0f\t%.1f\t%.1f\t%s\n", r.N, r.M, r.Seconds, r.LowerBound, r.Ratio,
			r.Calls, r.CallsPerObject, r.ExtraPct, r.RateLimitedPct, r.PeakRSSMiB, r.CPUSeconds, r.CPUmsPerObject, r.Error)
	}
	_ = w.Flush()
	b, _ := json.Marshal(rows)
	fmt.Printf("BENCH_SWEEP_JSON %s\n", b)
	return code
}
