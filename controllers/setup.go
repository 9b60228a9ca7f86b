// Package controllers wires one reconciler per kind of the access.contactsync.dev API to the
// managed loop (internal/reconciler) and the per-kind external clients (internal/external).
package controllers

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	accessv1alpha1 "github.com/contactsync/contactsync/api/v1alpha1"
	"github.com/contactsync/contactsync/internal/external/connection"
)

// Options are the knobs of the controllers, bound to command-line flags by the manager.
type Options struct {
	// MaxConcurrentReconciles per kind.
	MaxConcurrentReconciles int
	// HTTPClient for provider calls; nil means http.DefaultClient (tests and the demo set it).
	HTTPClient *http.Client
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// AllowInsecureHTTP lets credentials go to plain http base URLs (--allow-insecure-http).
	AllowInsecureHTTP bool
	// AllowedHosts per provider ("hostup", "onlyoffice"); empty means any host. The manager's
	// flags default HostUp to its public API host.
	AllowedHosts map[string][]string
	// CredentialsNamespace holds the Secrets of ClusterProviderConfigs that name no
	// credentialsNamespace: the controller's own namespace (--credentials-namespace, default
	// the POD_NAMESPACE environment variable).
	CredentialsNamespace string

	// afterCreate (tests only) runs between a create call and the recording of its id.
	afterCreate func() error
	// intervalDivisor (tests only): see connection.Pool.IntervalDivisor.
	intervalDivisor int
}

func (o Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

// retryBase is the first delay after a provider error: 1 s, divided like the poll intervals
// in tests (intervalDivisor), so a fault soak waits on events, not on wall-clock seconds.
func (o Options) retryBase() time.Duration {
	return time.Second / time.Duration(max(1, o.intervalDivisor))
}

// BindFlags registers the options on fs.
func (o *Options) BindFlags(fs *flag.FlagSet) {
	// 16: measured with hack/bench (docs/benchmarks.md): reconciles mostly wait on the provider and
	// its per-account limiter, and ONLYOFFICE writes can only coalesce across concurrent reconciles.
	fs.IntVar(&o.MaxConcurrentReconciles, "max-concurrent-reconciles", 16, "Reconciles run in parallel per kind (API calls are paced per account by the ProviderConfig's rate limit).")
	fs.BoolVar(&o.AllowInsecureHTTP, "allow-insecure-http", false, "Accept plain http base URLs in ProviderConfigs (for local tests and the demo); without it credentials are sent only over https.")
	fs.StringVar(&o.CredentialsNamespace, "credentials-namespace", os.Getenv("POD_NAMESPACE"), "Namespace of the credentials Secrets of ClusterProviderConfigs that name no spec.credentialsNamespace (default: the POD_NAMESPACE environment variable, the controller's own namespace).")
	o.AllowedHosts = map[string][]string{string(connection.HostUp): {defaultHostUpHost}}
	for _, p := range []connection.Provider{connection.HostUp, connection.OnlyOffice} {
		def := strings.Join(o.AllowedHosts[string(p)], ",")
		fs.Func(string(p)+"-allowed-hosts", fmt.Sprintf("Comma-separated hosts a %s ProviderConfig's baseURL may name (\"*.example.com\" matches subdomains; empty allows any host; default %q).", p, def),
			func(v string) error {
				o.AllowedHosts[string(p)] = splitHosts(v)
				return nil
			})
	}
}

// defaultHostUpHost is the host of connection.DefaultHostUpBaseURL.
const defaultHostUpHost = "cloud.hostup.se"

func splitHosts(v string) []string {
	var out []string
	for _, h := range strings.Split(v, ",") {
		if h = strings.TrimSpace(h); h != "" {
			out = append(out, h)
		}
	}
	return out
}

// CacheOptions is the manager's cache configuration: Secrets are cached only when they carry
// the opt-in label access.contactsync.dev/credentials: "true", so the controller never holds
// every Secret of the cluster in memory (External Secrets Operator and Flux made the same
// choice). managedFields are dropped from every cached object: the controller never reads them,
// and they are a large part of each object's memory (10 000 objects are cached). The manager
// binary, the demo and the tests all use it.
func CacheOptions() cache.Options {
	return cache.Options{
		DefaultTransform: cache.TransformStripManagedFields(),
		ByObject: map[client.Object]cache.ByObject{
			&corev1.Secret{}: {Label: labels.SelectorFromSet(labels.Set{accessv1alpha1.LabelCredentials: "true"})},
		},
	}
}

// Setup registers every reconciler with the manager.
func Setup(mgr ctrl.Manager, o Options) error {
	if o.MaxConcurrentReconciles < 1 {
		o.MaxConcurrentReconciles = 1
	}
	hosts := map[connection.Provider][]string{}
	for k, v := range o.AllowedHosts {
		hosts[connection.Provider(k)] = v
	}
	pool := &connection.Pool{
		HTTPClient: o.HTTPClient, Log: mgr.GetLogger().WithName("provider"),
		Endpoints: connection.EndpointPolicy{AllowInsecureHTTP: o.AllowInsecureHTTP, AllowedHosts: hosts},
		Secrets:   connection.SecretReader{Cached: mgr.GetClient(), Metadata: mgr.GetAPIReader()},

		ControllerNamespace: o.CredentialsNamespace,

		IntervalDivisor: o.intervalDivisor,
	}
	statusCollector.use(mgr.GetCache(), mgr.Elected())
	if err := (&ProviderConfigReconciler{Client: mgr.GetClient(), Pool: pool, Now: o.Now}).SetupWithManager(mgr, o); err != nil {
		return fmt.Errorf("cannot set up the ProviderConfig controller: %w", err)
	}
	if err := (&ProviderConfigReconciler{Client: mgr.GetClient(), Pool: pool, Now: o.Now, Cluster: true}).SetupWithManager(mgr, o); err != nil {
		return fmt.Errorf("cannot set up the ClusterProviderConfig controller: %w", err)
	}
	for _, cluster := range []bool{false, true} {
		if err := setupConfigUsage(mgr, pool, cluster, o); err != nil {
			return fmt.Errorf("cannot set up the config usage controller: %w", err)
		}
	}
	if err := setupContactAccess(mgr, pool, o); err != nil {
		return fmt.Errorf("cannot set up the ContactAccess controller: %w", err)
	}
	if err := setupDelegatedGrant(mgr, pool, o); err != nil {
		return fmt.Errorf("cannot set up the DelegatedGrant controller: %w", err)
	}
	return nil
}

// Secrets: the ProviderConfigs' of every namespace, and the ClusterProviderConfigs' in the
// controller's namespace (or their credentialsNamespace). Only labelled ones are cached or read.
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch
// Namespaces: their labels, for ClusterProviderConfig namespace selectors.
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

const indexProviderConfig = "spec.providerConfigRef.name"

// errorBackoff is the queue's backoff for errors returned to controller-runtime (Kubernetes API
// failures): 1 s doubling to 5 min. Provider errors are spaced by reconciler.Backoff instead,
// capped at the object's poll interval; Retry-After answers are honoured with RequeueAfter.
func errorBackoff() workqueue.TypedRateLimiter[reconcile.Request] {
	return workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](time.Second, 5*time.Minute)
}

// requestsFor maps an event to the objects of list's kind in ns whose indexed field equals
// value (for example the ContactAccess objects that use a ProviderConfig).
func requestsFor(ctx context.Context, kube client.Reader, list client.ObjectList, ns, field, value string) []reconcile.Request {
	if err := kube.List(ctx, list, client.InNamespace(ns), client.MatchingFields{field: value}); err != nil {
		logf.FromContext(ctx).Error(err, "cannot list dependants", "field", field, "value", value)
		return nil
	}
	items, err := meta.ExtractList(list)
	if err != nil {
		return nil
	}
	out := make([]reconcile.Request, 0, len(items))
	for _, it := range items {
		if o, ok := it.(client.Object); ok {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(o)})
		}
	}
	return out
}

// providerConfigReadinessChanged passes ProviderConfig and ClusterProviderConfig events that
// matter to the objects using it: creation, deletion, a spec change (a ClusterProviderConfig's
// namespace selector included), or a change of its Ready condition.
func providerConfigReadinessChanged() predicate.Predicate {
	return predicate.Funcs{
		UpdateFunc: func(e event.UpdateEvent) bool {
			o, n := e.ObjectOld, e.ObjectNew
			return o.GetGeneration() != n.GetGeneration() || configReady(o) != configReady(n)
		},
	}
}
