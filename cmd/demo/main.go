// Command demo runs contactsync on an embedded default: a local control plane built from the
// envtest binaries, in-memory HostUp and ONLYOFFICE servers with a seeded account, the samples
// from config/samples applied unchanged, and the manager — then shows the objects converging,
// and a change made "in a dashboard" being found and corrected.
//
// The samples name the real hosts (https://cloud.hostup.se/api, https://office.example.com) and
// placeholder credentials. The demo serves its fakes over TLS on loopback for those host names
// (a certificate it makes at start, trusted only by the manager it runs), routes only those
// names there, and makes the fakes accept the samples' placeholder Secrets. So the manager runs
// with the production endpoint policy (https only, no --allow-insecure-http), and the demo can
// never send anything to a real provider.
//
//	make demo              # interactive: live table until Ctrl-C
//	make demo ARGS=--once  # converge, correct drift, exit non-zero if anything is not Ready in time
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/yaml"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	accessv1alpha1 "github.com/contactsync/contactsync/api/v1alpha1"
	"github.com/contactsync/contactsync/controllers"
	"github.com/contactsync/contactsync/internal/cli"
	"github.com/contactsync/contactsync/internal/hostup/hostupfake"
	"github.com/contactsync/contactsync/internal/onlyoffice/onlyofficefake"
)

const (
	namespace = "demo"
	// platformNamespace is the controller's namespace (--credentials-namespace): it holds the
	// Secret of the samples' ClusterProviderConfig, as a platform team would keep it.
	platformNamespace = "contactsync-system"
	demoPoll          = 10 * time.Second
	samplesDir        = "config/samples"
)

func main() {
	once := flag.Bool("once", false, "Converge, show a drift correction, and exit (non-zero if anything is not Ready in time).")
	timeout := flag.Duration("timeout", 3*time.Minute, "How long --once waits for convergence and for the drift correction.")
	dir := flag.String("dir", ".demo", "Folder for the kubeconfig and the manager log.")
	flag.Parse()
	if err := run(*once, *timeout, *dir); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(once bool, timeout time.Duration, dir string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		return errors.New("KUBEBUILDER_ASSETS is not set: run through `make demo`, which builds the envtest binaries once")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	logFile, err := os.Create(filepath.Join(dir, "manager.log"))
	if err != nil {
		return err
	}
	defer func() { _ = logFile.Close() }()
	ctrl.SetLogger(zap.New(zap.WriteTo(logFile)))

	step("starting a local control plane (kube-apiserver + etcd from the envtest binaries)")
	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(accessv1alpha1.AddToScheme(scheme))
	env := &envtest.Environment{CRDDirectoryPaths: []string{"config/crd/bases"}, ErrorIfCRDPathMissing: true}
	cfg, err := env.Start()
	if err != nil {
		return fmt.Errorf("cannot start the control plane: %w", err)
	}
	defer func() {
		step("stopping the control plane")
		_ = env.Stop()
	}()
	user, err := env.AddUser(envtest.User{Name: "demo-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return err
	}
	kubeconfig, err := user.KubeConfig()
	if err != nil {
		return err
	}
	kcPath, _ := filepath.Abs(filepath.Join(dir, "kubeconfig"))
	if err := os.WriteFile(kcPath, kubeconfig, 0o600); err != nil {
		return err
	}
	kube, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return err
	}

	smp, err := readSamples(scheme)
	if err != nil {
		return err
	}
	step("serving in-memory HostUp and ONLYOFFICE over TLS on loopback, as " + smp.hostupHost + " and " + smp.onlyofficeHost)
	// The fakes accept the samples' placeholder credentials, and know the portal users the
	// samples name.
	hu := hostupfake.NewDemo(hostupfake.WithAPIKey(smp.hostupKey))
	oo := onlyofficefake.NewDemo()
	oo.AddUser(onlyofficefake.User{UserName: "crm-admin", Email: smp.onlyofficeUser, Password: smp.onlyofficePassword,
		FirstName: "CRM", LastName: "Admin", Title: "CRM automation", IsAdmin: true})
	for _, u := range []onlyofficefake.User{
		{UserName: "alice.example", Email: "alice@example.com", FirstName: "Alice", LastName: "Example", Title: "Account manager"},
		{UserName: "carol.example", Email: "carol@example.com", FirstName: "Carol", LastName: "Example", Title: "Sales"},
	} {
		u.Password = onlyofficefake.DemoManagerPassword
		oo.AddUser(u)
	}
	cert, roots, err := demoCertificate(smp.hostupHost, smp.onlyofficeHost)
	if err != nil {
		return err
	}
	huAddr, closeHU, err := serve(hu, cert)
	if err != nil {
		return err
	}
	defer closeHU()
	ooAddr, closeOO, err := serve(oo, cert)
	if err != nil {
		return err
	}
	defer closeOO()
	fmt.Printf("    HostUp      https://%s -> %s  (3 VPS, 2 hosting, 3 domains, 3 DNS zones, 2 contacts, 1 delegated grant)\n", smp.hostupHost, huAddr)
	fmt.Printf("    ONLYOFFICE  https://%s -> %s  (admin + 7 users, a terminated user, a visitor, 8 CRM contacts)\n", smp.onlyofficeHost, ooAddr)
	httpClient := routedClient(roots, map[string]string{smp.hostupHost + ":443": huAddr, smp.onlyofficeHost + ":443": ooAddr})

	step("starting the contactsync manager (log: " + filepath.Join(dir, "manager.log") + ")")
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{Scheme: scheme, Cache: controllers.CacheOptions(), Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0"})
	if err != nil {
		return err
	}
	if err := controllers.Setup(mgr, controllers.Options{MaxConcurrentReconciles: 4, HTTPClient: httpClient, CredentialsNamespace: platformNamespace}); err != nil {
		return err
	}
	mgrCtx, stopMgr := context.WithCancel(ctx)
	mgrDone := make(chan error, 1)
	go func() { mgrDone <- mgr.Start(mgrCtx) }()
	defer func() {
		stopMgr()
		if err := <-mgrDone; err != nil {
			fmt.Fprintln(os.Stderr, "demo: the manager stopped with an error:", err)
		}
	}()

	step("creating namespace " + namespace + " and applying " + samplesDir + " unchanged")
	if err := seed(ctx, kube, smp); err != nil {
		return err
	}
	fmt.Printf("\n    Point your own kubectl at it:  export KUBECONFIG=%s\n", kcPath)
	fmt.Printf("                                   kubectl get contactsync -n %s\n\n", namespace)

	deadline := time.Now().Add(timeout)
	var last string
	show := func() {
		t := table(ctx, kube)
		if t != last {
			if !once {
				fmt.Print("\033[H\033[2J")
				fmt.Printf("contactsync demo — KUBECONFIG=%s — Ctrl-C to stop\n\n", kcPath)
			}
			fmt.Print(t)
			fmt.Println()
			last = t
		}
	}
	if err := waitFor(ctx, deadline, show, func() bool { return allReady(ctx, kube) }); err != nil {
		return fmt.Errorf("not everything became Ready within %s: %w (see %s)", timeout, err, filepath.Join(dir, "manager.log"))
	}
	step("everything is Ready")

	step(fmt.Sprintf("shortening the ProviderConfigs' syncInterval from the samples' value to %s, so the next step takes seconds", demoPoll))
	for _, name := range smp.providerConfigs {
		pc := &accessv1alpha1.ProviderConfig{}
		if err := kube.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, pc); err != nil {
			return err
		}
		orig := pc.DeepCopy()
		pc.Spec.SyncInterval = &metav1.Duration{Duration: demoPoll}
		if err := kube.Patch(ctx, pc, client.MergeFrom(orig)); err != nil {
			return err
		}
	}
	// Objects wait for their ProviderConfig to verify its new generation; a correction made
	// while they wait would be an update, not a drift correction.
	pcsCurrent := func() bool {
		pcs := &accessv1alpha1.ProviderConfigList{}
		if kube.List(ctx, pcs, client.InNamespace(namespace)) != nil {
			return false
		}
		for _, pc := range pcs.Items {
			if pc.Status.ObservedGeneration != pc.Generation {
				return false
			}
		}
		return true
	}
	if err := waitFor(ctx, time.Now().Add(timeout), show, func() bool { return pcsCurrent() && allReady(ctx, kube) }); err != nil {
		return fmt.Errorf("not everything was Ready again within %s after the syncInterval change: %w", timeout, err)
	}

	step("simulating changes made by hand in the dashboards")
	accountant := &accessv1alpha1.ContactAccess{}
	if err := kube.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "accountant"}, accountant); err != nil {
		return err
	}
	var contactID int64
	fmt.Sscan(accountant.Status.ContactID, &contactID)
	p, _ := hu.ContactPermissions(contactID)
	p.CanPlaceOrders, p.Services = true, append(p.Services, "14103")
	if err := hu.SetContactPermissions(contactID, p); err != nil {
		return err
	}
	fmt.Printf("    HostUp: contact %d (accountant) was given \"VPS L db-1\" and order rights\n", contactID)
	acme := &accessv1alpha1.ContactAccess{}
	if err := kube.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "acme-corp"}, acme); err != nil {
		return err
	}
	crmID := acme.Spec.OnlyOffice.ContactID
	if err := oo.SetContactAccess(crmID, 1, nil); err != nil {
		return err
	}
	fmt.Printf("    ONLYOFFICE: CRM contact %d (acme-corp) was shared with everyone\n", crmID)
	seen := map[string]bool{}
	for _, e := range events(ctx, kube, "DriftCorrected") {
		seen[e.Name] = true
	}
	fresh := func() []eventsv1.Event {
		var out []eventsv1.Event
		for _, e := range events(ctx, kube, "DriftCorrected") {
			if !seen[e.Name] {
				out = append(out, e)
			}
		}
		return out
	}
	corrected := func() bool {
		q, _ := hu.ContactPermissions(contactID)
		c, _ := oo.Contact(crmID)
		return len(fresh()) >= 2 && !q.CanPlaceOrders && c.ShareType == 0
	}
	if err := waitFor(ctx, time.Now().Add(timeout), show, corrected); err != nil {
		return fmt.Errorf("the drift was not corrected within %s: %w", timeout, err)
	}
	for _, e := range fresh() {
		fmt.Printf("    %s/%s: %s\n", e.Regarding.Kind, e.Regarding.Name, e.Note)
	}
	step("drift found and corrected; both dashboards match Git again")

	step("the manager's metrics (docs/metrics.md), as Prometheus would scrape them")
	if err := showMetrics(ctx, kube); err != nil {
		return err
	}

	if err := adoptScene(ctx, kube, httpClient, hu, dir); err != nil {
		return err
	}

	if once {
		return nil
	}
	fmt.Println("\nWatching (Ctrl-C to stop). Try: kubectl edit contactaccess accountant -n demo")
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			fmt.Println()
			return nil
		case <-tick.C:
			show()
		}
	}
}

// adoptScene shows `kubectl contactsync`: import a contact that exists in HostUp and no object
// declares (Anna, seeded in the account), then plan an edited copy of the imported file. The
// plugin reaches the fakes through the demo's routed client, like the manager.
func adoptScene(ctx context.Context, kube client.Client, httpClient *http.Client, hu *hostupfake.Server, dir string) error {
	anna := hu.Contacts()[0]
	plugin := func(args ...string) (int, string, error) {
		var out, errb strings.Builder
		code := cli.Main(ctx, append([]string{"-n", namespace}, args...), cli.Options{Out: &out, Err: &errb, Kube: kube, HTTPClient: httpClient})
		if code == cli.ExitError {
			return code, out.String(), fmt.Errorf("kubectl contactsync %s: %s", strings.Join(args, " "), errb.String())
		}
		return code, out.String(), nil
	}
	step(fmt.Sprintf("adopting what exists: kubectl contactsync import hostup-contact %d (%s %s, made by hand in the dashboard)", anna.ID, anna.FirstName, anna.LastName))
	_, imported, err := plugin("import", "hostup-contact", fmt.Sprint(anna.ID))
	if err != nil {
		return err
	}
	file := filepath.Join(dir, "imported.yaml")
	if err := os.WriteFile(file, []byte(imported), 0o600); err != nil {
		return err
	}
	fmt.Print(indent(imported))
	edited := strings.Replace(imported, "managementPolicy: Observe", "managementPolicy: Enforce", 1)
	edited = strings.Replace(edited, "    permissions:\n", "    permissions:\n      canViewInvoices: true\n", 1)
	editedFile := filepath.Join(dir, "imported-edited.yaml")
	if err := os.WriteFile(editedFile, []byte(edited), 0o600); err != nil {
		return err
	}
	step("kubectl contactsync plan -f " + editedFile + "   (the copy now enforces and adds canViewInvoices)")
	code, plan, err := plugin("plan", "-f", editedFile)
	if err != nil {
		return err
	}
	fmt.Print(indent(plan))
	fmt.Printf("    exit code %d (0: nothing would change, 2: something would, 1: error); nothing was written\n", code)
	if code != cli.ExitChanges {
		return fmt.Errorf("plan of the edited import exited %d, want %d", code, cli.ExitChanges)
	}
	return nil
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ") + "\n"
}

func step(s string) { fmt.Printf("==> %s\n", s) }

// showMetrics prints the per-object metrics and fails unless every object shown in the table
// has its condition series, Ready=True.
func showMetrics(ctx context.Context, kube client.Client) error {
	families, err := ctrlmetrics.Registry.Gather()
	if err != nil {
		return err
	}
	ready := map[string]bool{}
	corrected := 0.0
	for _, f := range families {
		switch f.GetName() {
		case "contactsync_object_condition", "contactsync_drift_corrections_total", "contactsync_invite_expiry_timestamp_seconds":
		default:
			continue
		}
		for _, m := range f.GetMetric() {
			l := map[string]string{}
			var pairs []string
			for _, p := range m.GetLabel() {
				l[p.GetName()] = p.GetValue()
				pairs = append(pairs, fmt.Sprintf("%s=%q", p.GetName(), p.GetValue()))
			}
			v := m.GetGauge().GetValue() + m.GetCounter().GetValue()
			if f.GetName() == "contactsync_drift_corrections_total" {
				corrected += v
			}
			if f.GetName() == "contactsync_object_condition" {
				if l["condition"] != "Ready" || v != 1 {
					continue // one line per object is enough here
				}
				if l["status"] == "True" {
					ready[l["kind"]+"/"+l["name"]] = true
				}
			}
			fmt.Printf("    %s{%s} %v\n", f.GetName(), strings.Join(pairs, ","), v)
		}
	}
	if corrected < 2 {
		return fmt.Errorf("contactsync_drift_corrections_total counts %v corrections, want the 2 just made", corrected)
	}
	for _, r := range rows(ctx, kube) {
		if !ready[r.kind+"/"+r.name] {
			return fmt.Errorf("contactsync_object_condition has no Ready=True series for %s %s", r.kind, r.name)
		}
	}
	return nil
}

// serve runs h over TLS with cert on a loopback port and returns its address.
func serve(h http.Handler, cert tls.Certificate) (string, func(), error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}}
	go func() { _ = srv.ServeTLS(l, "", "") }()
	return l.Addr().String(), func() { _ = srv.Close() }, nil
}

// demoCertificate makes a self-signed certificate for hosts, and the pool that trusts it (only
// the manager this demo runs uses that pool).
func demoCertificate(hosts ...string) (tls.Certificate, *x509.CertPool, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "contactsync demo"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		DNSNames: hosts, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	parsed, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	roots := x509.NewCertPool()
	roots.AddCert(parsed)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: parsed}, roots, nil
}

// routedClient dials the fakes for the sample hosts and refuses every other address, so the
// demo never reaches a real provider.
func routedClient(roots *x509.CertPool, routes map[string]string) *http.Client {
	var d net.Dialer
	return &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			to, ok := routes[addr]
			if !ok {
				return nil, fmt.Errorf("the demo reaches only its fakes, not %s", addr)
			}
			return d.DialContext(ctx, network, to)
		},
		ForceAttemptHTTP2: true,
	}}
}

// samples is config/samples, read once: the objects to apply, and what the fakes must accept.
type samples struct {
	objects                            []client.Object
	providerConfigs                    []string
	hostupHost, onlyofficeHost         string
	hostupKey                          string
	onlyofficeUser, onlyofficePassword string
}

// readSamples reads every object of config/samples (files with several documents too).
func readSamples(scheme *runtime.Scheme) (samples, error) {
	var out samples
	files, err := filepath.Glob(filepath.Join(samplesDir, "*.yaml"))
	if err != nil {
		return out, err
	}
	sort.Strings(files)
	decoder := serializer.NewCodecFactory(scheme).UniversalDeserializer()
	secrets := map[string]*corev1.Secret{}
	var pcs []*accessv1alpha1.ProviderConfig
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		raw, err := os.ReadFile(f)
		if err != nil {
			return out, err
		}
		docs := yaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(raw)))
		for {
			doc, err := docs.Read()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return out, fmt.Errorf("cannot read %s: %w", f, err)
			}
			if len(bytes.TrimSpace(doc)) == 0 {
				continue
			}
			obj, _, err := decoder.Decode(doc, nil, nil)
			if err != nil {
				return out, fmt.Errorf("cannot decode %s: %w", f, err)
			}
			o := obj.(client.Object)
			switch o := o.(type) {
			case *corev1.Secret:
				secrets[o.Name] = o
			case *accessv1alpha1.ProviderConfig:
				pcs = append(pcs, o)
				out.providerConfigs = append(out.providerConfigs, o.Name)
			}
			out.objects = append(out.objects, o)
		}
	}
	value := func(secret, key string) (string, error) {
		s, ok := secrets[secret]
		if !ok {
			return "", fmt.Errorf("%s has no Secret %s", samplesDir, secret)
		}
		v, ok := s.StringData[key]
		if !ok {
			v, ok = string(s.Data[key]), len(s.Data[key]) > 0
		}
		if !ok {
			return "", fmt.Errorf("%s: Secret %s has no key %s", samplesDir, secret, key)
		}
		return v, nil
	}
	for _, pc := range pcs {
		switch {
		case pc.Spec.HostUp != nil:
			u, err := url.Parse(pc.Spec.HostUp.BaseURL)
			if err != nil {
				return out, err
			}
			out.hostupHost = u.Hostname()
			if out.hostupKey, err = value(pc.Spec.HostUp.APIKeySecretRef.Name, pc.Spec.HostUp.APIKeySecretRef.Key); err != nil {
				return out, err
			}
		case pc.Spec.OnlyOffice != nil:
			u, err := url.Parse(pc.Spec.OnlyOffice.BaseURL)
			if err != nil {
				return out, err
			}
			out.onlyofficeHost = u.Hostname()
			ref := pc.Spec.OnlyOffice.CredentialsSecretRef.Name
			if out.onlyofficeUser, err = value(ref, "userName"); err != nil {
				return out, err
			}
			if out.onlyofficePassword, err = value(ref, "password"); err != nil {
				return out, err
			}
		}
	}
	// In the order `kubectl apply -k config/samples` sends them (kustomize puts Secrets before
	// custom resources): a ContactAccess whose password Secret does not exist yet stalls until
	// its next poll.
	rank := func(o client.Object) int {
		switch o.(type) {
		case *corev1.Secret:
			return 0
		case *accessv1alpha1.ProviderConfig, *accessv1alpha1.ClusterProviderConfig:
			return 1
		}
		return 2
	}
	sort.SliceStable(out.objects, func(i, j int) bool { return rank(out.objects[i]) < rank(out.objects[j]) })
	if out.hostupHost == "" || out.onlyofficeHost == "" {
		return out, fmt.Errorf("%s needs a HostUp and an ONLYOFFICE ProviderConfig", samplesDir)
	}
	return out, nil
}

// seed creates the namespaces and applies the samples, unchanged. What a platform team does
// once is done here too, as hostup_clusterproviderconfig.yaml describes it: the demo namespace
// carries the label the ClusterProviderConfig selects, and the controller's namespace holds its
// opted-in Secret (the samples' placeholder key, which the fake accepts).
func seed(ctx context.Context, kube client.Client, smp samples) error {
	platform := []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace, Labels: map[string]string{"contactsync.dev/hostup": "shared"}}},
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: platformNamespace}},
		&corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: platformNamespace, Name: "hostup-platform",
				Labels: map[string]string{accessv1alpha1.LabelCredentials: "true"}},
			StringData: map[string]string{"apiKey": smp.hostupKey},
		},
	}
	for _, o := range platform {
		if err := kube.Create(ctx, o); err != nil {
			return fmt.Errorf("cannot create %T %s: %w", o, o.GetName(), err)
		}
	}
	for _, o := range smp.objects {
		if _, cluster := o.(*accessv1alpha1.ClusterProviderConfig); !cluster {
			o.SetNamespace(namespace)
		}
		if err := kube.Create(ctx, o); err != nil {
			return fmt.Errorf("cannot create %T %s: %w", o, o.GetName(), err)
		}
	}
	return nil
}

type row struct{ kind, name, ready, reason, detail, message string }

func rows(ctx context.Context, kube client.Client) []row {
	var out []row
	cond := func(conds []metav1.Condition) (string, string, string) {
		c := meta.FindStatusCondition(conds, accessv1alpha1.TypeReady)
		if c == nil {
			return "-", "", ""
		}
		return string(c.Status), c.Reason, c.Message
	}
	pcs := &accessv1alpha1.ProviderConfigList{}
	if kube.List(ctx, pcs, client.InNamespace(namespace)) == nil {
		for _, o := range pcs.Items {
			r, why, msg := cond(o.Status.Conditions)
			detail := o.Status.Identity
			if n := len(o.Status.UndeclaredGrants); n > 0 {
				detail += fmt.Sprintf("; %d undeclared grant(s)", n)
			}
			out = append(out, row{"ProviderConfig", o.Name, r, why, detail, msg})
		}
	}
	cpcs := &accessv1alpha1.ClusterProviderConfigList{}
	if kube.List(ctx, cpcs) == nil {
		for _, o := range cpcs.Items {
			r, why, msg := cond(o.Status.Conditions)
			out = append(out, row{"ClusterProviderConfig", o.Name, r, why, fmt.Sprintf("%s; %d user(s)", o.Status.Identity, o.Status.Users), msg})
		}
	}
	cas := &accessv1alpha1.ContactAccessList{}
	if kube.List(ctx, cas, client.InNamespace(namespace)) == nil {
		for _, o := range cas.Items {
			r, why, msg := cond(o.Status.Conditions)
			out = append(out, row{"ContactAccess", o.Name, r, why, "contact " + o.Status.ContactID, msg})
		}
	}
	dgs := &accessv1alpha1.DelegatedGrantList{}
	if kube.List(ctx, dgs, client.InNamespace(namespace)) == nil {
		for _, o := range dgs.Items {
			r, why, msg := cond(o.Status.Conditions)
			out = append(out, row{"DelegatedGrant", o.Name, r, why, string(o.Status.State), msg})
		}
	}
	return out
}

func table(ctx context.Context, kube client.Client) string {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "KIND\tNAME\tREADY\tREASON\tDETAIL\tMESSAGE")
	for _, r := range rows(ctx, kube) {
		msg := r.message
		if len(msg) > 70 {
			msg = msg[:67] + "..."
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", r.kind, r.name, r.ready, r.reason, r.detail, msg)
	}
	_ = w.Flush()
	return b.String()
}

func allReady(ctx context.Context, kube client.Client) bool {
	rs := rows(ctx, kube)
	if len(rs) < 5 {
		return false
	}
	for _, r := range rs {
		if r.ready != "True" {
			return false
		}
	}
	return true
}

func events(ctx context.Context, kube client.Client, reason string) []eventsv1.Event {
	list := &eventsv1.EventList{}
	if err := kube.List(ctx, list, client.InNamespace(namespace)); err != nil {
		return nil
	}
	var out []eventsv1.Event
	for _, e := range list.Items {
		if e.Reason == reason {
			out = append(out, e)
		}
	}
	return out
}

func waitFor(ctx context.Context, deadline time.Time, tick func(), done func() bool) error {
	for {
		tick()
		if done() {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("timed out")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Second):
		}
	}
}
