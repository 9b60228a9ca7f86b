package controllers

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlconfig "sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	accessv1alpha1 "github.com/contactsync/contactsync/api/v1alpha1"
)

var (
	testEnv   *envtest.Environment
	cfg       *rest.Config
	k8sClient client.Client
	scheme    = runtime.NewScheme()
	suiteCtx  context.Context
	cancel    context.CancelFunc
)

func TestControllers(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Controller Suite")
}

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(io.MultiWriter(GinkgoWriter, &capturedLogs)), zap.UseDevMode(true), zap.Level(zapcore.Level(-2))))
	suiteCtx, cancel = context.WithCancel(context.Background())

	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(accessv1alpha1.AddToScheme(scheme))

	testEnv = &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	var err error
	cfg, err = testEnv.Start()
	Expect(err).NotTo(HaveOccurred(), "cannot start envtest: is KUBEBUILDER_ASSETS set? `make test` sets it via hack/envtest-bins.sh")
	// Runs after AfterSuite even when an assertion there fails: no stray control plane is left.
	DeferCleanup(func() {
		cancel()
		Expect(testEnv.Stop()).To(Succeed())
	})
	k8sClient, err = client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())

	startManager()
})

var (
	mgrCancel context.CancelFunc
	mgrDone   chan struct{}
	// mgrCache is the running manager's cache (tests count what it holds).
	mgrCache cache.Cache
)

// startManager runs the controllers against envtest, as the manager binary would.
func startManager() {
	GinkgoHelper()
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Controller:             ctrlconfig.Controller{SkipNameValidation: ptr(true)},
		Cache:                  CacheOptions(),
	})
	Expect(err).NotTo(HaveOccurred())
	// The fakes listen on plain http on loopback: the test manager runs as the demo does, with
	// --allow-insecure-http and an allow-list of 127.0.0.1 for both providers.
	Expect(Setup(mgr, Options{MaxConcurrentReconciles: 4, AllowInsecureHTTP: true, intervalDivisor: timeDivisor, CredentialsNamespace: controllerNamespace,
		AllowedHosts: map[string][]string{"hostup": {"127.0.0.1"}, "onlyoffice": {"127.0.0.1"}}, afterCreate: func() error {
			if f := crashAfterCreate.Load(); f != nil {
				return (*f)()
			}
			return nil
		}})).To(Succeed())
	mgrCache = mgr.GetCache()
	ctx, cancel := context.WithCancel(suiteCtx)
	done := make(chan struct{})
	go func() {
		defer GinkgoRecover()
		defer close(done)
		Expect(mgr.Start(ctx)).To(Succeed())
	}()
	mgrCancel, mgrDone = cancel, done
}

// stopManager stops the running manager and waits for it to exit.
func stopManager() {
	mgrCancel()
	Eventually(mgrDone).WithTimeout(time.Minute).Should(BeClosed())
}

// restartManager stops the manager (as a rollout would) and starts a new one with empty caches
// and fresh provider connections.
func restartManager() {
	GinkgoHelper()
	stopManager()
	startManager()
}

// crashAfterCreate, when set by a test, runs between a create call and the recording of its id.
var crashAfterCreate atomic.Pointer[func() error]

var _ = AfterSuite(func() {
	if k8sClient != nil {
		By("no credential used anywhere in the suite reached a log line, an event, a status or an annotation")
		assertNoSecretsLeaked()
	}
})

// newNamespace creates a namespace of its own for one test.
func newNamespace() string {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "t-"}}
	Expect(k8sClient.Create(suiteCtx, ns)).To(Succeed())
	DeferCleanup(func() { purgeNamespace(ns.Name); _ = k8sClient.Delete(context.Background(), ns) })
	return ns.Name
}

// purgeNamespace removes the objects of this API from ns without running their finalizers
// (the test's fakes are closed by then), after checking that none of them holds a credential
// (the suite's leak check at the end can no longer see them). envtest runs no namespace
// controller, so without this every object of every earlier test would keep polling for the
// rest of the suite.
func purgeNamespace(ns string) {
	GinkgoHelper()
	expectNoSecretsIn("", ns)
	ctx := context.Background()
	for _, list := range []client.ObjectList{&accessv1alpha1.ContactAccessList{}, &accessv1alpha1.DelegatedGrantList{}, &accessv1alpha1.ProviderConfigList{}} {
		if err := k8sClient.List(ctx, list, client.InNamespace(ns)); err != nil {
			continue
		}
		_ = meta.EachListItem(list, func(o runtime.Object) error {
			obj := o.(client.Object)
			_ = k8sClient.Delete(ctx, obj)
			_ = k8sClient.Patch(ctx, obj, client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`)))
			return nil
		})
	}
}

// syncBuffer collects every log line of the suite (controllers and clients, V(2) included),
// so tests can assert that no secret ever reaches a log.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var capturedLogs syncBuffer
