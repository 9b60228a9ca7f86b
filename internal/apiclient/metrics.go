// Package apiclient holds what the HostUp and ONLYOFFICE clients share: one HTTP transport per
// account with a client-side rate limiter that learns the server's budget, request timeouts,
// size-limited body reads, and the Prometheus metrics every outbound call is counted in.
//
// Nothing here knows a provider's wire format; the provider packages parse bodies and headers
// and tell the limiter what they learned.
package apiclient

import (
	"github.com/prometheus/client_golang/prometheus"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

var (
	// RequestsTotal counts every HTTP call made to a provider, by operation and status code
	// ("error" when no response arrived).
	RequestsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "contactsync_api_requests_total",
		Help: "HTTP requests sent to provider APIs, by provider, operation and status code.",
	}, []string{"provider", "operation", "code"})

	// RequestDuration observes the latency of provider calls (including the body read).
	RequestDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "contactsync_api_request_duration_seconds",
		Help:    "Latency of HTTP requests to provider APIs.",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"provider", "operation"})

	// RateLimitedTotal counts answers that told us to slow down (HostUp 429, ONLYOFFICE 503
	// with Retry-After).
	RateLimitedTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "contactsync_api_rate_limited_total",
		Help: "Provider answers that signalled a rate limit (429, or 503 with Retry-After).",
	}, []string{"provider"})

	// LimiterWaitSeconds observes how long calls waited in the client-side limiter.
	LimiterWaitSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "contactsync_api_limiter_wait_seconds",
		Help:    "Time requests spent waiting in the client-side rate limiter.",
		Buckets: []float64{0, .01, .05, .1, .5, 1, 5, 30, 120},
	}, []string{"provider"})

	// DeferredTotal counts calls not sent because their account had to wait longer than a
	// reconcile may hold a worker: the reconcile went back to its queue for the time the
	// limiter gave ("paced": the client's own rate; "paused": the server asked to wait).
	DeferredTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "contactsync_api_deferred_total",
		Help: "Calls not sent because the account had to wait; the reconcile was requeued for the time its rate limit allows (reason paced or paused).",
	}, []string{"provider", "reason"})
)

func init() {
	ctrlmetrics.Registry.MustRegister(RequestsTotal, RequestDuration, RateLimitedTotal, LimiterWaitSeconds, DeferredTotal)
}
