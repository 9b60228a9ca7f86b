package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlconfig "sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	accessv1alpha1 "github.com/contactsync/contactsync/api/v1alpha1"
	"github.com/contactsync/contactsync/controllers"
	"github.com/contactsync/contactsync/internal/hostup/hostupfake"
	"github.com/contactsync/contactsync/internal/onlyoffice/onlyofficefake"
)

const (
	namespace   = "bench"
	hostupKey   = "bench-hostup-api-key-0123456789"
	ooAdmin     = "svc@bench.example.com"
	ooAdminPass = "bench-admin-Passw0rd"
	pcHostUp    = "hostup"
	pcOnlyOffic = "onlyoffice"
)

// ooManagers are the portal users the ONLYOFFICE objects name as managers (by e-mail).
var ooManagers = []onlyofficefake.User{
	{ID: "a11ce000-0000-4000-8000-000000000001", Email: "alice@bench.example.com", FirstName: "Alice", LastName: "A"},
	{ID: "b0b00000-0000-4000-8000-000000000002", Email: "bob@bench.example.com", FirstName: "Bob", LastName: "B"},
	{ID: "ca201000-0000-4000-8000-000000000003", Email: "carol@bench.example.com", FirstName: "Carol", LastName: "C"},
	{ID: "da7e0000-0000-4000-8000-000000000004", Email: "dave@bench.example.com", FirstName: "Dave", LastName: "D"},
}

// bench is the running system: control plane, fakes and the manager.
type bench struct {
	cfg    *config
	env    *envtest.Environment
	rest   *rest.Config
	scheme *runtime.Scheme
	kube   client.WithWatch

	hu          *hostupfake.Server
	oo          *onlyofficefake.Server
	huURL       string
	ooURL       string
	closeFakes  []func()
	httpClient  *http.Client
	stopManager func()

	work *workload
}

// start brings up the control plane, the fakes and the manager.
func start(ctx context.Context, cfg *config) (*bench, error) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		home, _ := os.UserHomeDir()
		dir := filepath.Join(home, ".cache", "contactsync", "envtest", "1.37.2")
		if _, err := os.Stat(filepath.Join(dir, "kube-apiserver")); err != nil {
			return nil, errors.New("KUBEBUILDER_ASSETS is not set: export KUBEBUILDER_ASSETS=$(hack/envtest-bins.sh)")
		}
		_ = os.Setenv("KUBEBUILDER_ASSETS", dir)
	}
	if _, err := os.Stat(cfg.CRDDir); err != nil {
		return nil, fmt.Errorf("no CRDs at %s (run from the repository root or set -crd): %w", cfg.CRDDir, err)
	}
	logOut := io.Writer(io.Discard)
	if cfg.LogFile != "" {
		f, err := os.Create(cfg.LogFile)
		if err != nil {
			return nil, err
		}
		logOut = f
	}
	ctrl.SetLogger(zap.New(zap.WriteTo(logOut), zap.Level(zapcore.Level(-cfg.Verbosity))))

	b := &bench{cfg: cfg, scheme: runtime.NewScheme()}
	utilruntime.Must(clientgoscheme.AddToScheme(b.scheme))
	utilruntime.Must(accessv1alpha1.AddToScheme(b.scheme))

	progress("starting the control plane (envtest: kube-apiserver + etcd)")
	b.env = &envtest.Environment{CRDDirectoryPaths: []string{cfg.CRDDir}, ErrorIfCRDPathMissing: true}
	restCfg, err := b.env.Start()
	if err != nil {
		return nil, fmt.Errorf("cannot start the control plane: %w", err)
	}
	b.rest = restCfg
	if b.kube, err = client.NewWithWatch(restCfg, client.Options{Scheme: b.scheme}); err != nil {
		b.stop()
		return nil, err
	}

	progress("serving the fakes on loopback (latency %s, %d req/s per account)", cfg.Latency, cfg.ServerRPS)
	b.hu = hostupfake.New(hostupfake.WithAPIKey(hostupKey), hostupfake.WithRateLimit(float64(cfg.ServerRPS), cfg.ServerRPS))
	b.hu.SetFaults(hostupfake.Faults{Latency: cfg.Latency})
	// ONLYOFFICE's documented limit is a count per fixed window (500 per 10 s per IP).
	b.oo = onlyofficefake.New(onlyofficefake.WithRateLimit(int(float64(cfg.ServerRPS)*cfg.OOWindow.Seconds()), cfg.OOWindow),
		onlyofficefake.WithFaults(onlyofficefake.Faults{Latency: cfg.Latency}))
	if err := b.seedFakes(); err != nil {
		b.stop()
		return nil, err
	}
	// One transport with enough idle connections per host that the benchmark measures the
	// controller, not connection set-up.
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 64
	b.httpClient = &http.Client{Transport: tr}
	for _, s := range []struct {
		h   http.Handler
		url *string
	}{{b.hu, &b.huURL}, {b.oo, &b.ooURL}} {
		u, closeFn, err := serve(s.h)
		if err != nil {
			b.stop()
			return nil, err
		}
		*s.url = u
		b.closeFakes = append(b.closeFakes, closeFn)
	}

	if err := b.startManager(ctx); err != nil {
		b.stop()
		return nil, err
	}
	return b, nil
}

// startManager starts a manager with controllers.Setup in this process. It may be called again
// after stopManager (a restart); controller names are then reused, so name validation is off.
func (b *bench) startManager(ctx context.Context) error {
	mgr, err := ctrl.NewManager(b.rest, ctrl.Options{
		Scheme:                 b.scheme,
		Cache:                  controllers.CacheOptions(),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Controller:             ctrlconfig.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		return err
	}
	if err := controllers.Setup(mgr, controllers.Options{MaxConcurrentReconciles: b.cfg.Concurrency, HTTPClient: b.httpClient, AllowInsecureHTTP: true}); err != nil {
		return err
	}
	mctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- mgr.Start(mctx) }()
	b.stopManager = func() {
		cancel()
		if err := <-done; err != nil {
			progress("manager stopped with: %v", err)
		}
	}
	return nil
}

// stop tears everything down (best effort).
func (b *bench) stop() {
	if b.stopManager != nil {
		b.stopManager()
		b.stopManager = nil
	}
	for _, f := range b.closeFakes {
		f()
	}
	if b.env != nil {
		_ = b.env.Stop()
	}
}

// serve runs h on a loopback port and returns its base URL.
func serve(h http.Handler) (string, func(), error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	return "http://" + l.Addr().String(), func() { _ = srv.Close() }, nil
}

// createProviderConfigs creates the namespace, the Secrets and one ProviderConfig per account,
// with a rateLimit equal to the server's and the configured syncInterval.
// optIn is the label every Secret contactsync reads must carry.
var optIn = map[string]string{accessv1alpha1.LabelCredentials: "true"}

func (b *bench) createProviderConfigs(ctx context.Context) error {
	rl := &accessv1alpha1.RateLimit{RequestsPerSecond: int32(b.cfg.ServerRPS), Burst: int32(b.cfg.ClientBurst)}
	poll := &metav1.Duration{Duration: b.cfg.SyncInterval}
	objs := []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "hostup-credentials", Labels: optIn},
			StringData: map[string]string{"apiKey": hostupKey}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "onlyoffice-credentials", Labels: optIn},
			StringData: map[string]string{"userName": ooAdmin, "password": ooAdminPass}},
		&accessv1alpha1.ProviderConfig{
			ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: pcHostUp},
			Spec: accessv1alpha1.ProviderConfigSpec{
				HostUp: &accessv1alpha1.HostUpProvider{BaseURL: b.huURL + "/api",
					APIKeySecretRef: accessv1alpha1.SecretKeySelector{Name: "hostup-credentials", Key: "apiKey"}},
				RateLimit: rl, SyncInterval: poll,
			},
		},
		&accessv1alpha1.ProviderConfig{
			ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: pcOnlyOffic},
			Spec: accessv1alpha1.ProviderConfigSpec{
				OnlyOffice: &accessv1alpha1.OnlyOfficeProvider{BaseURL: b.ooURL,
					CredentialsSecretRef: accessv1alpha1.SecretReference{Name: "onlyoffice-credentials"}},
				RateLimit: rl, SyncInterval: poll,
			},
		},
	}
	for _, o := range objs {
		if err := b.kube.Create(ctx, o); err != nil {
			return fmt.Errorf("cannot create %T %s: %w", o, o.GetName(), err)
		}
	}
	return nil
}
