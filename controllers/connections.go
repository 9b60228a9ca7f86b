package controllers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"golang.org/x/sync/singleflight"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	accessv1alpha1 "github.com/contactsync/contactsync/api/v1alpha1"
	"github.com/contactsync/contactsync/internal/hostup"
	"github.com/contactsync/contactsync/internal/onlyoffice"
)

// defaultSyncInterval is used when neither the object nor its ProviderConfig sets one.
const defaultSyncInterval = 10 * time.Minute

// Connection is the shared client of one ProviderConfig: one rate limiter and one token cache
// for every object that uses the account.
type Connection struct {
	HostUp     hostup.API
	OnlyOffice onlyoffice.API
	// SyncInterval is the ProviderConfig's poll period.
	SyncInterval time.Duration
	// RevokeGrant is set only when the ProviderConfig enables grantRevocation: DeleteEndpoint.
	RevokeGrant func(ctx context.Context, grantID string) error

	key    string
	users  userCache
	grants grantCache
	access *accessBatcher
}

// Connections owns one Connection per ProviderConfig and rebuilds it when the
// ProviderConfig's spec or its Secret changes.
type Connections struct {
	// HTTPClient is used by every provider client (tests and the demo may set it).
	HTTPClient *http.Client
	Log        logr.Logger

	mu   sync.Mutex
	byPC map[types.NamespacedName]*Connection
}

// connectError is a problem a person must fix in a ProviderConfig or Secret.
type connectError struct {
	reason, message string
}

func (e *connectError) Error() string { return e.message }

// Connect returns the connection of pc. The Secret is read from pc's own namespace only.
func (c *Connections) Connect(ctx context.Context, kube client.Reader, pc *accessv1alpha1.ProviderConfig) (*Connection, error) {
	name := types.NamespacedName{Namespace: pc.Namespace, Name: pc.Name}
	var secretName string
	switch {
	case pc.Spec.HostUp != nil:
		secretName = pc.Spec.HostUp.APIKeySecretRef.Name
	case pc.Spec.OnlyOffice != nil:
		secretName = pc.Spec.OnlyOffice.CredentialsSecretRef.Name
	default:
		return nil, &connectError{accessv1alpha1.ReasonInvalidSpec, "ProviderConfig sets neither hostup nor onlyoffice"}
	}
	secret := &corev1.Secret{}
	if err := kube.Get(ctx, types.NamespacedName{Namespace: pc.Namespace, Name: secretName}, secret); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, &connectError{accessv1alpha1.ReasonSecretNotFound,
				fmt.Sprintf("Secret %q not found in namespace %q: create it with the provider credentials", secretName, pc.Namespace)}
		}
		return nil, fmt.Errorf("cannot get Secret %s/%s: %w", pc.Namespace, secretName, err)
	}
	key := fmt.Sprintf("%s/%d/%s", pc.UID, pc.Generation, secret.ResourceVersion)

	c.mu.Lock()
	defer c.mu.Unlock()
	if conn := c.byPC[name]; conn != nil && conn.key == key {
		return conn, nil
	}
	conn, err := c.build(pc, secret)
	if err != nil {
		return nil, err
	}
	conn.key = key
	if c.byPC == nil {
		c.byPC = map[types.NamespacedName]*Connection{}
	}
	c.byPC[name] = conn
	return conn, nil
}

// Forget drops the connection of a deleted ProviderConfig.
func (c *Connections) Forget(name types.NamespacedName) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.byPC, name)
	grantsByState.DeletePartialMatch(map[string]string{"namespace": name.Namespace, "provider_config": name.Name})
}

func (c *Connections) build(pc *accessv1alpha1.ProviderConfig, secret *corev1.Secret) (*Connection, error) {
	rps, burst := 10.0, 10
	if rl := pc.Spec.RateLimit; rl != nil {
		if rl.RequestsPerSecond > 0 {
			rps = float64(rl.RequestsPerSecond)
		}
		if rl.Burst > 0 {
			burst = int(rl.Burst)
		}
	}
	conn := &Connection{SyncInterval: defaultSyncInterval}
	if pc.Spec.SyncInterval != nil && pc.Spec.SyncInterval.Duration > 0 {
		conn.SyncInterval = pc.Spec.SyncInterval.Duration
	}
	log := c.Log.WithValues("providerConfig", types.NamespacedName{Namespace: pc.Namespace, Name: pc.Name})
	switch {
	case pc.Spec.HostUp != nil:
		ref := pc.Spec.HostUp.APIKeySecretRef
		apiKey := string(secret.Data[ref.Key])
		if apiKey == "" {
			return nil, &connectError{accessv1alpha1.ReasonSecretInvalid,
				fmt.Sprintf("Secret %q has no key %q (or it is empty): put the HostUp API key there", ref.Name, ref.Key)}
		}
		scheme := hostup.AuthAPIKey
		if pc.Spec.HostUp.AuthScheme == accessv1alpha1.AuthBearer {
			scheme = hostup.AuthBearer
		}
		baseURL := pc.Spec.HostUp.BaseURL
		if baseURL == "" {
			baseURL = "https://cloud.hostup.se/api"
		}
		cl, err := hostup.New(hostup.Config{
			BaseURL: baseURL, APIKey: apiKey, AuthScheme: scheme,
			RequestsPerSecond: rps, Burst: burst, HTTPClient: c.HTTPClient, Logger: log,
		})
		if err != nil {
			return nil, &connectError{accessv1alpha1.ReasonInvalidSpec, err.Error()}
		}
		conn.HostUp = cl
		if pc.Spec.HostUp.GrantRevocation == accessv1alpha1.RevocationDeleteEndpoint {
			conn.RevokeGrant = cl.DeleteGrant
		}
	case pc.Spec.OnlyOffice != nil:
		user, pass, token := string(secret.Data["userName"]), string(secret.Data["password"]), string(secret.Data["token"])
		if token == "" && (user == "" || pass == "") {
			return nil, &connectError{accessv1alpha1.ReasonSecretInvalid,
				fmt.Sprintf("Secret %q needs the keys userName and password, or the key token", secret.Name)}
		}
		cl, err := onlyoffice.New(onlyoffice.Config{
			BaseURL: pc.Spec.OnlyOffice.BaseURL, UserName: user, Password: pass, Token: token,
			RequestsPerSecond: rps, Burst: burst, HTTPClient: c.HTTPClient, Logger: log,
		})
		if err != nil {
			// The base URL passed admission; what is left to refuse is the Secret's content.
			return nil, &connectError{accessv1alpha1.ReasonSecretInvalid, fmt.Sprintf("Secret %q: %v", secret.Name, err)}
		}
		conn.OnlyOffice = cl
		conn.access = newAccessBatcher(cl)
	}
	return conn, nil
}

// userCache remembers e-mail → user resolutions for one poll period, so a steady state does not
// look every manager up on every poll.
type userCache struct {
	mu      sync.Mutex
	entries map[string]cachedUser
	// flight makes concurrent misses for one e-mail share a single lookup.
	flight singleflight.Group
}

type cachedUser struct {
	user    onlyoffice.User
	expires time.Time
}

func (u *userCache) get(email string, now time.Time) (onlyoffice.User, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	e, ok := u.entries[email]
	if !ok || now.After(e.expires) {
		return onlyoffice.User{}, false
	}
	return e.user, true
}

func (u *userCache) put(email string, user onlyoffice.User, expires time.Time) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.entries == nil {
		u.entries = map[string]cachedUser{}
	}
	u.entries[email] = cachedUser{user, expires}
}

// asConnectError returns the connectError in err, if any.
func asConnectError(err error) (*connectError, bool) {
	var ce *connectError
	ok := errors.As(err, &ce)
	return ce, ok
}

// connectProvider finds the ProviderConfig named ref in namespace ns (never another namespace:
// no confused deputy), checks it is of the wanted kind and Ready, and returns its shared
// connection and the poll interval (the object's override, else the ProviderConfig's). When ok
// is false, out says why.
func connectProvider(ctx context.Context, kube client.Client, conns *Connections, ns, ref string, wantHostUp bool,
	override *metav1.Duration) (conn *Connection, interval time.Duration, out outcome, ok bool) {
	interval = defaultSyncInterval
	if override != nil {
		interval = override.Duration
	}
	pc := &accessv1alpha1.ProviderConfig{}
	if err := kube.Get(ctx, types.NamespacedName{Namespace: ns, Name: ref}, pc); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, interval, stalled(accessv1alpha1.ReasonProviderConfigNotFound,
				fmt.Sprintf("ProviderConfig %q not found in namespace %q (objects can only use a ProviderConfig of their own namespace)", ref, ns), false), false
		}
		return nil, interval, retrying(accessv1alpha1.ReasonAPIError, fmt.Sprintf("cannot get ProviderConfig %q: %v", ref, err)), false
	}
	if override == nil && pc.Spec.SyncInterval != nil {
		interval = pc.Spec.SyncInterval.Duration
	}
	if wantHostUp != (pc.Spec.HostUp != nil) {
		want, got := "onlyoffice", "hostup"
		if wantHostUp {
			want, got = "hostup", "onlyoffice"
		}
		return nil, interval, stalled(accessv1alpha1.ReasonProviderMismatch,
			fmt.Sprintf("this object needs a %s ProviderConfig but %q is for %s", want, pc.Name, got), false), false
	}
	if !isReady(pc.Status.Conditions, pc.Generation) {
		msg := fmt.Sprintf("waiting for ProviderConfig %q to verify its credentials", pc.Name)
		if c := meta.FindStatusCondition(pc.Status.Conditions, accessv1alpha1.TypeReady); c != nil && c.Message != "" {
			msg += ": " + c.Message
		}
		return nil, interval, progressing(accessv1alpha1.ReasonProviderConfigNotReady, msg, false), false
	}
	conn, err := conns.Connect(ctx, kube, pc)
	if err != nil {
		if ce, isCE := asConnectError(err); isCE {
			return nil, interval, progressing(accessv1alpha1.ReasonProviderConfigNotReady, ce.message, false), false
		}
		return nil, interval, retrying(accessv1alpha1.ReasonAPIError, err.Error()), false
	}
	return conn, interval, outcome{}, true
}
