// Command bench measures contactsync at scale against the in-memory HostUp and ONLYOFFICE fakes
// (issue 8). It starts the envtest control plane, serves one HostUp and one ONLYOFFICE account on
// loopback with a per-request latency and a server-side rate limit, starts the manager in this
// process (controllers.Setup), creates N ContactAccess objects (HostUp and ONLYOFFICE mixed) and
// M DelegatedGrants, and reports:
//
//   - convergence: time until every object is Ready, API calls by provider and operation against
//     the minimum the workload needs, the lower bound on time set by the server rate limit,
//     429/503 answers, reconciles, peak RSS and CPU time of this process;
//   - steady state over -steady poll periods: writes, reads and grant list calls per period;
//   - apply-to-Ready latency of single objects created one at a time after the steady phase
//     (no convergence work is left; the periodic polls of the N objects continue);
//   - restart (optional, -restart): a new manager with no drift, the writes and calls it makes.
//
// It prints a table and one line `BENCH_JSON {...}` on stdout (progress goes to stderr) and exits
// 0; 1 on a setup failure, 2 on -timeout.
//
//	export KUBEBUILDER_ASSETS=$(hack/envtest-bins.sh)
//	go run ./hack/bench                    # N=1000, M=100, 20 ms latency, 20 req/s per account
//	go run ./hack/bench -n 200 -m 20
//
// Run it from the repository root (it reads config/crd/bases, see -crd).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"syscall"
	"time"
)

// config holds the command-line flags.
type config struct {
	N             int           `json:"n"`
	M             int           `json:"m"`
	Latency       time.Duration `json:"-"`
	ServerRPS     int           `json:"serverRPS"`
	ClientBurst   int           `json:"clientBurst"`
	Concurrency   int           `json:"concurrency"`
	Steady        int           `json:"steadyPeriods"`
	SyncInterval  time.Duration `json:"-"`
	MatchFraction float64       `json:"matchFraction"`
	Samples       int           `json:"latencySamples"`
	Restart       bool          `json:"restart"`
	Fairness      int           `json:"fairnessObjects"`
	OOWindow      time.Duration `json:"-"`
	Sweep         string        `json:"-"`
	MemLimitMiB   int           `json:"memLimitMiB"`
	Timeout       time.Duration `json:"-"`
	JSONOnly      bool          `json:"-"`
	CRDDir        string        `json:"-"`
	LogFile       string        `json:"-"`
	Verbosity     int           `json:"-"`

	// Text forms of the durations, for the JSON line.
	LatencyText      string `json:"latency"`
	SyncIntervalText string `json:"syncInterval"`
}

func parseFlags() (*config, error) {
	c := &config{}
	flag.IntVar(&c.N, "n", 1000, "ContactAccess objects (half HostUp, half ONLYOFFICE).")
	flag.IntVar(&c.M, "m", 100, "DelegatedGrants (HostUp account).")
	flag.DurationVar(&c.Latency, "latency", 20*time.Millisecond, "Latency the fakes add to every request.")
	flag.IntVar(&c.ServerRPS, "server-rps", 20, "Server-side rate limit per account, requests/s (HostUp: token bucket, burst = rps, 429; ONLYOFFICE: rps × -oo-window requests per fixed window, 503). The ProviderConfigs' rateLimit.requestsPerSecond is set to the same value.")
	flag.DurationVar(&c.OOWindow, "oo-window", 10*time.Second, "The ONLYOFFICE fake's fixed rate-limit window (documented: 500 requests per 10 s); it allows server-rps × window requests per window.")
	flag.IntVar(&c.ClientBurst, "client-burst", 0, "ProviderConfig rateLimit.burst (0: unset, the controller's default: 10 for HostUp, 3 for ONLYOFFICE).")
	flag.IntVar(&c.Fairness, "fairness", 200, "Objects per group in the fairness scenario (two more HostUp accounts, one answering Retry-After: 3600 to every call); 0 skips it.")
	flag.IntVar(&c.MemLimitMiB, "memlimit-mib", 0, "Go soft memory limit of this process in MiB (as GOMEMLIMIT; config/manager sets GOMEMLIMIT for the manager), 0: none.")
	flag.StringVar(&c.Sweep, "sweep", "", "Comma-separated sizes, e.g. 100,1000,10000: run the benchmark once per size N (M = N/10, convergence only) in a fresh process each and print the scale table.")
	flag.IntVar(&c.Concurrency, "concurrency", 16, "controllers.Options.MaxConcurrentReconciles (per kind); 16 is the manager's default.")
	flag.IntVar(&c.Steady, "steady", 3, "Poll periods (-sync-interval) to observe the steady state (0 skips it).")
	flag.DurationVar(&c.SyncInterval, "sync-interval", time.Minute, "ProviderConfig syncInterval (poll period; at least 5s).")
	flag.Float64Var(&c.MatchFraction, "match", 0.5, "Fraction of ContactAccess objects that already match the fake's state (the rest differ).")
	flag.IntVar(&c.Samples, "samples", 20, "Objects created one at a time after the steady phase to time apply-to-Ready (0 skips it).")
	flag.BoolVar(&c.Restart, "restart", true, "After the steady phase, restart the manager and count what it does with no drift.")
	flag.DurationVar(&c.Timeout, "timeout", 15*time.Minute, "Give up (exit 2) after this long.")
	flag.BoolVar(&c.JSONOnly, "json-only", false, "Print only the BENCH_JSON line on stdout.")
	flag.StringVar(&c.CRDDir, "crd", filepath.Join("config", "crd", "bases"), "Folder of the CRDs.")
	flag.StringVar(&c.LogFile, "log", "", "Write the manager's log to this file (default: discarded).")
	flag.IntVar(&c.Verbosity, "v", 0, "Log verbosity of the manager's log (1: every provider request).")
	flag.Parse()
	switch {
	case c.N < 0 || c.M < 0:
		return nil, errors.New("-n and -m must not be negative")
	case c.N+c.M == 0:
		return nil, errors.New("nothing to do: -n and -m are both 0")
	case c.ServerRPS < 1:
		return nil, errors.New("-server-rps must be at least 1")
	case c.SyncInterval < 5*time.Second || c.SyncInterval > 24*time.Hour:
		return nil, errors.New("-sync-interval must be between 5s and 24h (the CRDs' validation)")
	case c.MatchFraction < 0 || c.MatchFraction > 1:
		return nil, errors.New("-match must be in [0,1]")
	case c.Concurrency < 1:
		return nil, errors.New("-concurrency must be at least 1")
	}
	if c.OOWindow < time.Second {
		return nil, errors.New("-oo-window must be at least 1s")
	}
	c.LatencyText, c.SyncIntervalText = c.Latency.String(), c.SyncInterval.String()
	return c, nil
}

// Exit codes.
const (
	exitOK      = 0
	exitSetup   = 1
	exitTimeout = 2
)

// errTimeout marks a phase that did not finish within -timeout.
var errTimeout = errors.New("timed out")

func main() {
	cfg, err := parseFlags()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(exitSetup)
	}
	if cfg.Sweep != "" {
		os.Exit(sweep(cfg))
	}
	if cfg.MemLimitMiB > 0 {
		debug.SetMemoryLimit(int64(cfg.MemLimitMiB) << 20)
	}
	// Ctrl-C or SIGTERM ends the run like a timeout: the report so far is printed and the
	// control plane is stopped.
	sigCtx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(sigCtx, cfg.Timeout)
	defer cancel()

	rep, err := run(ctx, cfg)
	code := exitOK
	if err != nil {
		timedOut := errors.Is(err, errTimeout) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
		switch {
		case rep == nil || rep.Converge == nil && !timedOut:
			fmt.Fprintln(os.Stderr, "bench: setup failed:", err)
			if timedOut {
				os.Exit(exitTimeout)
			}
			os.Exit(exitSetup)
		case timedOut:
			code = exitTimeout
			rep.Error = "timeout: " + err.Error()
		default:
			code = exitSetup
			rep.Error = err.Error()
		}
		fmt.Fprintln(os.Stderr, "bench:", err)
	}
	if rep != nil {
		if !cfg.JSONOnly {
			printTable(os.Stdout, rep)
		}
		b, _ := json.Marshal(rep)
		fmt.Printf("BENCH_JSON %s\n", b)
	}
	os.Exit(code)
}

// progress writes a timestamped line to stderr.
func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s bench: %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}
