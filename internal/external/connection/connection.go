// Package connection owns the provider connections: one client (rate limiter, token cache,
// shared grant list) per account, shared by the ProviderConfigs and ClusterProviderConfigs that
// reach it, rebuilt when a spec or Secret changes. It is the one place that decides which
// provider config an object uses (Resolver) and which provider it talks to.
package connection

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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

// Connection is the client of one ProviderConfig or ClusterProviderConfig. Configs that reach
// the same account (same provider, endpoint, credential and rate limit) share one account
// connection: one rate limiter, one token cache and one shared grant list, so a
// ClusterProviderConfig and a ProviderConfig for the same account do not double the traffic.
type Connection struct {
	HostUp     hostup.API
	OnlyOffice onlyoffice.API
	// RevokeGrant is set only when the config enables grantRevocation: DeleteEndpoint.
	RevokeGrant func(ctx context.Context, grantID string) error

	// key is the config's uid, generation and Secret resourceVersion: a change rebuilds.
	key    string
	acct   *account
	config ConfigRef
}

// ConfigRef names a ProviderConfig (Namespace set) or a ClusterProviderConfig.
type ConfigRef struct {
	Kind, Namespace, Name string
}

// account is what every config of one account shares.
type account struct {
	key        string
	hostup     *hostup.Client
	onlyoffice onlyoffice.API
	grants     grantCache

	mu     sync.Mutex
	values map[any]any
}

// Value returns the per-account value stored under key, making it with mk on first use (for
// example the ONLYOFFICE write coalescer and user cache of the account). Values go away with
// the account connection when no config uses it any more.
func (c *Connection) Value(key any, mk func() any) any {
	a := c.account()
	a.mu.Lock()
	defer a.mu.Unlock()
	if v, ok := a.values[key]; ok {
		return v
	}
	if a.values == nil {
		a.values = map[any]any{}
	}
	v := mk()
	a.values[key] = v
	return v
}

// SharesAccountWith reports whether c and o use the same account connection.
func (c *Connection) SharesAccountWith(o *Connection) bool { return c.account() == o.account() }

// account returns the shared part; a Connection made outside the Pool (tests) gets its own.
func (c *Connection) account() *account {
	if c.acct == nil {
		c.acct = &account{}
	}
	return c.acct
}

// Pool owns one Connection per config and one account connection per account.
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
	// ControllerNamespace holds the Secrets of ClusterProviderConfigs that name no
	// credentialsNamespace (the manager's --credentials-namespace).
	ControllerNamespace string

	once    sync.Once
	guarded *http.Client

	mu        sync.Mutex
	byConfig  map[string]*Connection
	byAccount map[string]*account
}

// Resolver is the Pool's Resolver reading through kube.
func (p *Pool) Resolver(kube client.Reader) Resolver {
	return Resolver{Kube: kube, Secrets: p.Secrets, ControllerNamespace: p.ControllerNamespace}
}

// Connect returns the connection of the ProviderConfig pc (ConnectConfig of ConfigOf(pc)).
func (p *Pool) Connect(ctx context.Context, kube client.Reader, pc *accessv1alpha1.ProviderConfig) (*Connection, error) {
	return p.ConnectConfig(ctx, kube, ConfigOf(pc, p.ControllerNamespace))
}

// ConnectConfig returns the connection of c, a ProviderConfig or ClusterProviderConfig. A
// problem a person must fix is an error carrying a Stalled outcome. While c is being deleted, a
// connection already made for it outlives its Secret: the objects that use c still apply their
// deletion policy with the credentials last read, when the Secret went first
// (kubectl delete -f dir/, an Argo CD app deletion).
func (p *Pool) ConnectConfig(ctx context.Context, kube client.Reader, c *Config) (*Connection, error) {
	secret, err := p.Resolver(kube).Secret(ctx, c)
	if err != nil {
		if o := reconciler.Classify(err); c.Deleting() && o.Kind == reconciler.KindStalled {
			p.mu.Lock()
			conn := p.byConfig[c.Key()]
			p.mu.Unlock()
			if conn != nil && strings.HasPrefix(conn.key, string(c.Object.GetUID())+"/") {
				return conn, nil
			}
		}
		return nil, err
	}
	key := fmt.Sprintf("%s/%d/%s", c.Object.GetUID(), c.Object.GetGeneration(), secret.ResourceVersion)

	p.mu.Lock()
	defer p.mu.Unlock()
	if conn := p.byConfig[c.Key()]; conn != nil && conn.key == key {
		return conn, nil
	}
	conn, err := p.build(c, secret)
	if err != nil {
		return nil, err
	}
	conn.key = key
	conn.config = ConfigRef{Kind: c.Kind, Namespace: c.Namespace, Name: c.Name}
	if p.byConfig == nil {
		p.byConfig = map[string]*Connection{}
	}
	p.byConfig[c.Key()] = conn
	p.dropUnusedAccounts()
	return conn, nil
}

// SharingAccount lists the configs whose current connection shares conn's account (conn's own
// config included), sorted by kind, namespace and name.
func (p *Pool) SharingAccount(conn *Connection) []ConfigRef {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []ConfigRef
	for _, c := range p.byConfig {
		if c.acct == conn.acct {
			out = append(out, c.config)
		}
	}
	slices.SortFunc(out, func(a, b ConfigRef) int {
		return strings.Compare(a.Kind+"/"+a.Namespace+"/"+a.Name, b.Kind+"/"+b.Namespace+"/"+b.Name)
	})
	return out
}

// Forget drops the connection of a deleted config (kind and name as in Config.Key).
func (p *Pool) Forget(c *Config) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.byConfig, c.Key())
	p.dropUnusedAccounts()
	GrantsByState.DeletePartialMatch(map[string]string{"namespace": c.Namespace, "provider_config": c.Name})
}

// dropUnusedAccounts forgets the account connections no config uses any more. p.mu is held.
func (p *Pool) dropUnusedAccounts() {
	used := map[*account]bool{}
	for _, c := range p.byConfig {
		used[c.acct] = true
	}
	for k, a := range p.byAccount {
		if !used[a] {
			delete(p.byAccount, k)
		}
	}
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

// accountKey identifies an account connection: what a client is built from. The credential
// enters only as a SHA-256 digest. Two configs whose rate limits differ get two connections:
// each limit is a promise the config makes, and one limiter cannot keep both.
func accountKey(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// build makes the connection of c, on the account connection it shares with other configs of
// the same account when there is one. p.mu is held.
func (p *Pool) build(c *Config, secret *corev1.Secret) (*Connection, error) {
	spec := c.Spec
	// Defaults: 10 requests/s; burst 10 for HostUp (a token bucket that learns the server's
	// X-RateLimit-* budget) and 3 for ONLYOFFICE: one reconcile's read, write and verify read
	// go without waiting, while the client's sliding window (onlyoffice.NewLimiter) keeps every
	// one of the portal's fixed windows within its count whatever the burst.
	rps, burst := 10.0, 10
	if spec.OnlyOffice != nil {
		burst = onlyoffice.DefaultBurst
	}
	if rl := spec.RateLimit; rl != nil {
		if rl.RequestsPerSecond > 0 {
			rps = float64(rl.RequestsPerSecond)
		}
		if rl.Burst > 0 {
			burst = int(rl.Burst)
		}
	}
	limits := fmt.Sprintf("%g/%d", rps, burst)
	conn := &Connection{}
	log := p.Log.WithValues("providerConfig", c.Key())
	switch {
	case spec.HostUp != nil:
		ref := spec.HostUp.APIKeySecretRef
		apiKey := string(secret.Data[ref.Key])
		if apiKey == "" {
			return nil, stall(accessv1alpha1.ReasonSecretInvalid,
				fmt.Sprintf("Secret %q has no key %q (or it is empty): put the HostUp API key there", ref.Name, ref.Key))
		}
		scheme := hostup.AuthAPIKey
		if spec.HostUp.AuthScheme == accessv1alpha1.AuthBearer {
			scheme = hostup.AuthBearer
		}
		baseURL := spec.HostUp.BaseURL
		if baseURL == "" {
			baseURL = DefaultHostUpBaseURL
		}
		if err := p.Endpoints.Check(HostUp, baseURL); err != nil {
			return nil, err
		}
		key := accountKey(string(HostUp), baseURL, fmt.Sprint(scheme), apiKey, limits)
		a := p.byAccount[key]
		if a == nil {
			cl, err := hostup.New(hostup.Config{
				BaseURL: baseURL, APIKey: apiKey, AuthScheme: scheme,
				RequestsPerSecond: rps, Burst: burst, HTTPClient: p.httpClient(), Logger: log,
			})
			if err != nil {
				return nil, stall(accessv1alpha1.ReasonInvalidSpec, err.Error())
			}
			a = &account{key: key, hostup: cl}
		}
		conn.acct, conn.HostUp = a, a.hostup
		if spec.HostUp.GrantRevocation == accessv1alpha1.RevocationDeleteEndpoint {
			conn.RevokeGrant = a.hostup.DeleteGrant
		}
	case spec.OnlyOffice != nil:
		user, pass, token := string(secret.Data["userName"]), string(secret.Data["password"]), string(secret.Data["token"])
		if token == "" && (user == "" || pass == "") {
			return nil, stall(accessv1alpha1.ReasonSecretInvalid,
				fmt.Sprintf("Secret %q needs the keys userName and password, or the key token", secret.Name))
		}
		if err := p.Endpoints.Check(OnlyOffice, spec.OnlyOffice.BaseURL); err != nil {
			return nil, err
		}
		key := accountKey(string(OnlyOffice), spec.OnlyOffice.BaseURL, user, pass, token, limits)
		a := p.byAccount[key]
		if a == nil {
			cl, err := onlyoffice.New(onlyoffice.Config{
				BaseURL: spec.OnlyOffice.BaseURL, UserName: user, Password: pass, Token: token,
				RequestsPerSecond: rps, Burst: burst, HTTPClient: p.httpClient(), Logger: log,
			})
			if err != nil {
				// The base URL passed admission; what is left to refuse is the Secret's content.
				return nil, stall(accessv1alpha1.ReasonSecretInvalid, fmt.Sprintf("Secret %q: %v", secret.Name, err))
			}
			a = &account{key: key, onlyoffice: cl}
		}
		conn.acct, conn.OnlyOffice = a, a.onlyoffice
	default:
		return nil, stall(accessv1alpha1.ReasonInvalidSpec, c.Kind+" sets neither hostup nor onlyoffice")
	}
	if p.byAccount == nil {
		p.byAccount = map[string]*account{}
	}
	p.byAccount[conn.acct.key] = conn.acct
	return conn, nil
}

// declaredInterval is the poll period of an object as declared: its own override, else its
// config's, else the default.
func declaredInterval(override *metav1.Duration, spec *accessv1alpha1.ProviderConfigSpec) time.Duration {
	switch {
	case override != nil && override.Duration > 0:
		return override.Duration
	case spec != nil && spec.SyncInterval != nil && spec.SyncInterval.Duration > 0:
		return spec.SyncInterval.Duration
	}
	return reconciler.DefaultSyncInterval
}

// SyncInterval is the poll period of an object using the ProviderConfig pc (nil when unknown):
// SyncIntervalOf its spec.
func (p *Pool) SyncInterval(override *metav1.Duration, pc *accessv1alpha1.ProviderConfig) time.Duration {
	if pc == nil {
		return p.SyncIntervalOf(override, nil)
	}
	return p.SyncIntervalOf(override, &pc.Spec)
}

// SyncIntervalOf is the poll period of an object as this Pool runs it: the declared one (see
// declaredInterval; spec is the config's, nil when unknown), divided by IntervalDivisor in tests.
func (p *Pool) SyncIntervalOf(override *metav1.Duration, spec *accessv1alpha1.ProviderConfigSpec) time.Duration {
	d := declaredInterval(override, spec)
	if p.IntervalDivisor > 1 {
		d /= time.Duration(p.IntervalDivisor)
	}
	return d
}

// ForObject finds the config ref names for an object of namespace ns (Resolver.Config: a
// ProviderConfig of ns, never of another namespace, or a ClusterProviderConfig that allows
// ns), checks that it is of the wanted provider and Ready, and returns its shared connection
// and the object's poll interval (valid even on error). Every failure is an error carrying
// the outcome to report; nothing is sent to the provider before all checks pass.
func (p *Pool) ForObject(ctx context.Context, kube client.Reader, ns string, ref accessv1alpha1.ProviderConfigReference, want Provider, override *metav1.Duration) (*Connection, time.Duration, error) {
	c, err := p.Resolver(kube).Config(ctx, ns, ref)
	if err != nil {
		return nil, p.SyncIntervalOf(override, nil), err
	}
	interval := p.SyncIntervalOf(override, c.Spec)
	if got := c.Provider(); got != want {
		return nil, interval, reconciler.Fail(reconciler.Stalled(accessv1alpha1.ReasonProviderMismatch,
			fmt.Sprintf("this object needs a %s %s but %q is for %s", want, c.Kind, c.Name, got), false))
	}
	if !c.Ready() {
		msg := fmt.Sprintf("waiting for %s %q to verify its credentials", c.Kind, c.Name)
		if rc := meta.FindStatusCondition(c.Status.Conditions, accessv1alpha1.TypeReady); rc != nil && rc.Message != "" {
			msg += ": " + rc.Message
		}
		return nil, interval, reconciler.Fail(reconciler.Progressing(accessv1alpha1.ReasonProviderConfigNotReady, msg, false))
	}
	conn, err := p.ConnectConfig(ctx, kube, c)
	if err != nil {
		if o := reconciler.Classify(err); o.Kind == reconciler.KindStalled {
			// The config reports the details; its dependants wait for it.
			return nil, interval, reconciler.Fail(reconciler.Progressing(accessv1alpha1.ReasonProviderConfigNotReady, o.Message, false))
		}
		return nil, interval, err
	}
	return conn, interval, nil
}
