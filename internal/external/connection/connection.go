// Package connection owns the provider connections: one client (rate limiter, token cache,
// shared grant list) per ProviderConfig, rebuilt when its spec or Secret changes. It is the one
// place that decides which provider an object talks to.
package connection

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	accessv1alpha1 "github.com/contactsync/contactsync/api/v1alpha1"
	"github.com/contactsync/contactsync/internal/apiclient"
	"github.com/contactsync/contactsync/internal/hostup"
	"github.com/contactsync/contactsync/internal/onlyoffice"
	"github.com/contactsync/contactsync/internal/reconciler"
)

// Provider names a provider kind.
type Provider string

// The providers.
const (
	HostUp     Provider = "hostup"
	OnlyOffice Provider = "onlyoffice"
)

// DefaultHostUpBaseURL is HostUp's public API.
const DefaultHostUpBaseURL = "https://cloud.hostup.se/api"

// Connection is the shared client of one ProviderConfig: one rate limiter and one token cache
// for every object that uses the account.
type Connection struct {
	HostUp     hostup.API
	OnlyOffice onlyoffice.API
	// RevokeGrant is set only when the ProviderConfig enables grantRevocation: DeleteEndpoint.
	RevokeGrant func(ctx context.Context, grantID string) error

	key    string
	grants grantCache

	mu     sync.Mutex
	values map[any]any
}

// Value returns the per-connection value stored under key, making it with mk on first use
// (for example the ONLYOFFICE write coalescer and user cache of the account). Values go away
// with the connection when its ProviderConfig or Secret changes.
func (c *Connection) Value(key any, mk func() any) any {
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.values[key]; ok {
		return v
	}
	if c.values == nil {
		c.values = map[any]any{}
	}
	v := mk()
	c.values[key] = v
	return v
}

// Pool owns one Connection per ProviderConfig.
type Pool struct {
	// HTTPClient is used by every provider client; nil means apiclient.GuardedHTTPClient (the
	// dialer refuses link-local and metadata addresses).
	HTTPClient *http.Client
	Log        logr.Logger
	// Endpoints says where credentials may be sent.
	Endpoints EndpointPolicy
	// IntervalDivisor (tests only) divides every poll interval the Pool hands out, so a suite
	// runs the smallest syncInterval admission accepts (5 s) as a few hundred milliseconds and
	// asserts per-poll behaviour without waiting on wall-clock time. 0 or 1: as declared.
	IntervalDivisor int
	// Secrets reads the credentials Secrets (opt-in label only). Its Cached reader defaults to
	// the reader passed to Connect.
	Secrets SecretReader

	once    sync.Once
	guarded *http.Client

	mu   sync.Mutex
	byPC map[types.NamespacedName]*Connection
}

// Connect returns the connection of pc. The Secret is read from pc's own namespace only. A
// problem a person must fix is an error carrying a Stalled outcome.
func (p *Pool) Connect(ctx context.Context, kube client.Reader, pc *accessv1alpha1.ProviderConfig) (*Connection, error) {
	name := types.NamespacedName{Namespace: pc.Namespace, Name: pc.Name}
	var secretName string
	switch {
	case pc.Spec.HostUp != nil:
		secretName = pc.Spec.HostUp.APIKeySecretRef.Name
	case pc.Spec.OnlyOffice != nil:
		secretName = pc.Spec.OnlyOffice.CredentialsSecretRef.Name
	default:
		return nil, stall(accessv1alpha1.ReasonInvalidSpec, "ProviderConfig sets neither hostup nor onlyoffice")
	}
	secrets := p.Secrets
	if secrets.Cached == nil {
		secrets.Cached = kube
	}
	secret, err := secrets.Get(ctx, pc.Namespace, secretName, "the provider credentials")
	if err != nil {
		return nil, err
	}
	key := fmt.Sprintf("%s/%d/%s", pc.UID, pc.Generation, secret.ResourceVersion)

	p.mu.Lock()
	defer p.mu.Unlock()
	if conn := p.byPC[name]; conn != nil && conn.key == key {
		return conn, nil
	}
	conn, err := p.build(pc, secret)
	if err != nil {
		return nil, err
	}
	conn.key = key
	if p.byPC == nil {
		p.byPC = map[types.NamespacedName]*Connection{}
	}
	p.byPC[name] = conn
	return conn, nil
}

// Forget drops the connection of a deleted ProviderConfig.
func (p *Pool) Forget(name types.NamespacedName) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.byPC, name)
	GrantsByState.DeletePartialMatch(map[string]string{"namespace": name.Namespace, "provider_config": name.Name})
}

func stall(reason, msg string) error { return reconciler.Fail(reconciler.Stalled(reason, msg, false)) }

// httpClient is the client every provider client uses.
func (p *Pool) httpClient() *http.Client {
	if p.HTTPClient != nil {
		return p.HTTPClient
	}
	p.once.Do(func() { p.guarded = apiclient.GuardedHTTPClient() })
	return p.guarded
}

func (p *Pool) build(pc *accessv1alpha1.ProviderConfig, secret *corev1.Secret) (*Connection, error) {
	// Defaults: 10 requests/s; burst 10 for HostUp (a token bucket that learns the server's
	// X-RateLimit-* budget) and 3 for ONLYOFFICE: one reconcile's read, write and verify read
	// go without waiting, while the client's sliding window (onlyoffice.NewLimiter) keeps every
	// one of the portal's fixed windows within its count whatever the burst.
	rps, burst := 10.0, 10
	if pc.Spec.OnlyOffice != nil {
		burst = onlyoffice.DefaultBurst
	}
	if rl := pc.Spec.RateLimit; rl != nil {
		if rl.RequestsPerSecond > 0 {
			rps = float64(rl.RequestsPerSecond)
		}
		if rl.Burst > 0 {
			burst = int(rl.Burst)
		}
	}
	conn := &Connection{}
	log := p.Log.WithValues("providerConfig", types.NamespacedName{Namespace: pc.Namespace, Name: pc.Name})
	switch {
	case pc.Spec.HostUp != nil:
		ref := pc.Spec.HostUp.APIKeySecretRef
		apiKey := string(secret.Data[ref.Key])
		if apiKey == "" {
			return nil, stall(accessv1alpha1.ReasonSecretInvalid,
				fmt.Sprintf("Secret %q has no key %q (or it is empty): put the HostUp API key there", ref.Name, ref.Key))
		}
		scheme := hostup.AuthAPIKey
		if pc.Spec.HostUp.AuthScheme == accessv1alpha1.AuthBearer {
			scheme = hostup.AuthBearer
		}
		baseURL := pc.Spec.HostUp.BaseURL
		if baseURL == "" {
			baseURL = DefaultHostUpBaseURL
		}
		if err := p.Endpoints.Check(HostUp, baseURL); err != nil {
			return nil, err
		}
		cl, err := hostup.New(hostup.Config{
			BaseURL: baseURL, APIKey: apiKey, AuthScheme: scheme,
			RequestsPerSecond: rps, Burst: burst, HTTPClient: p.httpClient(), Logger: log,
		})
		if err != nil {
			return nil, stall(accessv1alpha1.ReasonInvalidSpec, err.Error())
		}
		conn.HostUp = cl
		if pc.Spec.HostUp.GrantRevocation == accessv1alpha1.RevocationDeleteEndpoint {
			conn.RevokeGrant = cl.DeleteGrant
		}
	case pc.Spec.OnlyOffice != nil:
		user, pass, token := string(secret.Data["userName"]), string(secret.Data["password"]), string(secret.Data["token"])
		if token == "" && (user == "" || pass == "") {
			return nil, stall(accessv1alpha1.ReasonSecretInvalid,
				fmt.Sprintf("Secret %q needs the keys userName and password, or the key token", secret.Name))
		}
		if err := p.Endpoints.Check(OnlyOffice, pc.Spec.OnlyOffice.BaseURL); err != nil {
			return nil, err
		}
		cl, err := onlyoffice.New(onlyoffice.Config{
			BaseURL: pc.Spec.OnlyOffice.BaseURL, UserName: user, Password: pass, Token: token,
			RequestsPerSecond: rps, Burst: burst, HTTPClient: p.httpClient(), Logger: log,
		})
		if err != nil {
			// The base URL passed admission; what is left to refuse is the Secret's content.
			return nil, stall(accessv1alpha1.ReasonSecretInvalid, fmt.Sprintf("Secret %q: %v", secret.Name, err))
		}
		conn.OnlyOffice = cl
	}
	return conn, nil
}

// declaredInterval is the poll period of an object as declared: its own override, else its
// ProviderConfig's, else the default.
func declaredInterval(override *metav1.Duration, pc *accessv1alpha1.ProviderConfig) time.Duration {
	switch {
	case override != nil && override.Duration > 0:
		return override.Duration
	case pc != nil && pc.Spec.SyncInterval != nil && pc.Spec.SyncInterval.Duration > 0:
		return pc.Spec.SyncInterval.Duration
	}
	return reconciler.DefaultSyncInterval
}

// SyncInterval is the poll period of an object as this Pool runs it: the declared one (see
// declaredInterval), divided by IntervalDivisor in tests.
func (p *Pool) SyncInterval(override *metav1.Duration, pc *accessv1alpha1.ProviderConfig) time.Duration {
	d := declaredInterval(override, pc)
	if p.IntervalDivisor > 1 {
		d /= time.Duration(p.IntervalDivisor)
	}
	return d
}

// ForObject finds the ProviderConfig named ref in namespace ns (never another namespace: no
// confused deputy), checks that it is of the wanted provider and Ready, and returns its shared
// connection and the object's poll interval (valid even on error). Every failure is an error
// carrying the outcome to report.
func (p *Pool) ForObject(ctx context.Context, kube client.Reader, ns, ref string, want Provider, override *metav1.Duration) (*Connection, time.Duration, error) {
	pc := &accessv1alpha1.ProviderConfig{}
	if err := kube.Get(ctx, types.NamespacedName{Namespace: ns, Name: ref}, pc); err != nil {
		interval := p.SyncInterval(override, nil)
		if apierrors.IsNotFound(err) {
			return nil, interval, reconciler.Fail(reconciler.Stalled(accessv1alpha1.ReasonProviderConfigNotFound,
				fmt.Sprintf("ProviderConfig %q not found in namespace %q (objects can only use a ProviderConfig of their own namespace)", ref, ns), false))
		}
		return nil, interval, reconciler.Fail(reconciler.Retrying(accessv1alpha1.ReasonAPIError, fmt.Sprintf("cannot get ProviderConfig %q: %v", ref, err)))
	}
	interval := p.SyncInterval(override, pc)
	got := OnlyOffice
	if pc.Spec.HostUp != nil {
		got = HostUp
	}
	if got != want {
		return nil, interval, reconciler.Fail(reconciler.Stalled(accessv1alpha1.ReasonProviderMismatch,
			fmt.Sprintf("this object needs a %s ProviderConfig but %q is for %s", want, pc.Name, got), false))
	}
	if !reconciler.IsReady(pc.Status.Conditions, pc.Generation) {
		msg := fmt.Sprintf("waiting for ProviderConfig %q to verify its credentials", pc.Name)
		if c := meta.FindStatusCondition(pc.Status.Conditions, accessv1alpha1.TypeReady); c != nil && c.Message != "" {
			msg += ": " + c.Message
		}
		return nil, interval, reconciler.Fail(reconciler.Progressing(accessv1alpha1.ReasonProviderConfigNotReady, msg, false))
	}
	conn, err := p.Connect(ctx, kube, pc)
	if err != nil {
		if o := reconciler.Classify(err); o.Kind == reconciler.KindStalled {
			// The ProviderConfig reports the details; its dependants wait for it.
			return nil, interval, reconciler.Fail(reconciler.Progressing(accessv1alpha1.ReasonProviderConfigNotReady, o.Message, false))
		}
		return nil, interval, err
	}
	return conn, interval, nil
}
