// Command demo runs contactsync on an embedded default: a local control plane built from the
// envtest binaries, in-memory HostUp and ONLYOFFICE servers on loopback with a seeded account,
// the samples from config/samples, and the manager — then shows the objects converging, and a
// change made "in a dashboard" being found and corrected.
//
//	make demo              # interactive: live table until Ctrl-C
//	make demo ARGS=--once  # converge, correct drift, exit non-zero if anything is not Ready in time
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
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
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	accessv1alpha1 "github.com/contactsync/contactsync/api/v1alpha1"
	"github.com/contactsync/contactsync/controllers"
	"github.com/contactsync/contactsync/internal/cli"
	"github.com/contactsync/contactsync/internal/hostup/hostupfake"
	"github.com/contactsync/contactsync/internal/onlyoffice/onlyofficefake"
)

const (
	namespace  = "demo"
	hostupKey  = "demo-hostup-api-key"
	demoPoll   = 10 * time.Second
	samplesDir = "config/samples"
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

	step("serving in-memory HostUp and ONLYOFFICE on loopback")
	hu := hostupfake.NewDemo(hostupfake.WithAPIKey(hostupKey))
	huURL, closeHU, err := serve(hu)
	if err != nil {
		return err
	}
	defer closeHU()
	oo := onlyofficefake.NewDemo()
	ooURL, closeOO, err := serve(oo)
	if err != nil {
		return err
	}
	defer closeOO()
	fmt.Printf("    HostUp      %s/api  (3 VPS, 2 hosting, 3 domains, 3 DNS zones, 2 contacts, 1 delegated grant)\n", huURL)
	fmt.Printf("    ONLYOFFICE  %s      (admin + 5 managers, a terminated user, a visitor, 8 CRM contacts)\n", ooURL)

	step("starting the contactsync manager (log: " + filepath.Join(dir, "manager.log") + ")")
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{Scheme: scheme, Cache: controllers.CacheOptions(), Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0"})
	if err != nil {
		return err
	}
	if err := controllers.Setup(mgr, controllers.Options{MaxConcurrentReconciles: 4, AllowInsecureHTTP: true}); err != nil {
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

	step("creating namespace " + namespace + ", Secrets, ProviderConfigs, and applying " + samplesDir)
	if err := seed(ctx, kube, scheme, huURL+"/api", ooURL); err != nil {
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
	if err := oo.SetContactAccess(101, 1, nil); err != nil {
		return err
	}
	fmt.Println("    ONLYOFFICE: CRM contact 101 (acme-corp) was shared with everyone")
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
		c, _ := oo.Contact(101)
		return len(fresh()) >= 2 && !q.CanPlaceOrders && c.ShareType == 0
	}
	if err := waitFor(ctx, time.Now().Add(timeout), show, corrected); err != nil {
		return fmt.Errorf("the drift was not corrected within %s: %w", timeout, err)
	}
	for _, e := range fresh() {
		fmt.Printf("    %s/%s: %s\n", e.Regarding.Kind, e.Regarding.Name, e.Note)
	}
	step("drift found and corrected; both dashboards match Git again")

	if err := adoptScene(ctx, cfg, hu, dir); err != nil {
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
// declares (Anna, seeded in the account), then plan an edited copy of the imported file.
func adoptScene(ctx context.Context, cfg *rest.Config, hu *hostupfake.Server, dir string) error {
	anna := hu.Contacts()[0]
	plugin := func(args ...string) (int, string, error) {
		var out, errb strings.Builder
		base := []string{"-n", namespace, "--allow-insecure-http", "--hostup-allowed-hosts", "127.0.0.1"}
		code := cli.Main(ctx, append(base, args...), cli.Options{Out: &out, Err: &errb, RESTConfig: cfg})
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

// serve runs h on a loopback port.
func serve(h http.Handler) (string, func(), error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	return "http://" + l.Addr().String(), func() { _ = srv.Close() }, nil
}

// seed creates the namespace, the credentials, and the samples pointed at the local servers.
func seed(ctx context.Context, kube client.Client, scheme *runtime.Scheme, hostupURL, onlyofficeURL string) error {
	objs := []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}},
		secret("hostup-credentials", map[string]string{"apiKey": hostupKey}),
		secret("hostup-platform", map[string]string{"apiKey": hostupKey}),
		secret("onlyoffice-credentials", map[string]string{"userName": onlyofficefake.DemoAdminEmail, "password": onlyofficefake.DemoAdminPassword}),
		secret("accountant-password", map[string]string{"password": "Demo-Passw0rd-accountant"}),
	}
	files, err := filepath.Glob(filepath.Join(samplesDir, "*.yaml"))
	if err != nil {
		return err
	}
	sort.Strings(files)
	decoder := serializer.NewCodecFactory(scheme).UniversalDeserializer()
	for _, f := range files {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		raw, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		obj, _, err := decoder.Decode(raw, nil, nil)
		if err != nil {
			return fmt.Errorf("cannot decode %s: %w", f, err)
		}
		o := obj.(client.Object)
		o.SetNamespace(namespace)
		if pc, ok := o.(*accessv1alpha1.ProviderConfig); ok {
			pc.Spec.SyncInterval = &metav1.Duration{Duration: demoPoll}
			if pc.Spec.HostUp != nil {
				pc.Spec.HostUp.BaseURL = hostupURL
			} else {
				pc.Spec.OnlyOffice.BaseURL = onlyofficeURL
			}
		}
		if cpc, ok := o.(*accessv1alpha1.ClusterProviderConfig); ok {
			// The platform team's config: the demo keeps its Secret in the demo namespace, and
			// allows that namespace by name.
			cpc.Spec.SyncInterval = &metav1.Duration{Duration: demoPoll}
			cpc.Spec.HostUp.BaseURL = hostupURL
			cpc.Spec.CredentialsNamespace = namespace
			cpc.Spec.Namespaces = append(cpc.Spec.Namespaces, namespace)
		}
		objs = append(objs, o)
	}
	for _, o := range objs {
		if err := kube.Create(ctx, o); err != nil {
			return fmt.Errorf("cannot create %T %s: %w", o, o.GetName(), err)
		}
	}
	return nil
}

func secret(name string, data map[string]string) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name,
		Labels: map[string]string{accessv1alpha1.LabelCredentials: "true"}}, StringData: data}
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
