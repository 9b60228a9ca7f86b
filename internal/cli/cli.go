// Package cli is the kubectl plugin kubectl-contactsync: import what exists in HostUp and
// ONLYOFFICE as ready-to-commit YAML, list an account's catalogue, and plan what Enforce would
// change for a set of files. It reads ProviderConfigs and their credentials Secrets with the
// user's own kubeconfig rights and talks to the providers with the controller's own clients
// (rate limits, redaction, endpoint policy). It never writes to a provider or to the cluster.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	accessv1alpha1 "github.com/contactsync/contactsync/api/v1alpha1"
	"github.com/contactsync/contactsync/internal/external/connection"
	"github.com/contactsync/contactsync/internal/reconciler"
)

// Exit codes, as `kubectl diff` uses them: plan exits 2 when something would change.
const (
	ExitOK      = 0
	ExitError   = 1
	ExitChanges = 2
)

// Options are what the embedding program provides. The zero value is the plugin binary.
type Options struct {
	// Out and Err receive the output and the diagnostics; nil means os.Stdout and os.Stderr.
	Out, Err io.Writer
	// RESTConfig, when set, is used instead of the kubeconfig (the demo and tests).
	RESTConfig *rest.Config
	// Kube, when set, is the cluster client (tests); it wins over RESTConfig.
	Kube client.Client
	// HTTPClient for provider calls; nil means the controller's guarded client.
	HTTPClient *http.Client
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Main runs the plugin with args (without the program name) and returns the exit code.
func Main(ctx context.Context, args []string, o Options) int {
	if o.Out == nil {
		o.Out = os.Stdout
	}
	if o.Err == nil {
		o.Err = os.Stderr
	}
	cmd := NewCommand(&o)
	cmd.SetArgs(args)
	cmd.SetOut(o.Out)
	cmd.SetErr(o.Err)
	err := cmd.ExecuteContext(ctx)
	var ee *exitError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ee) && ee.err == nil:
		return ee.code
	case errors.As(err, &ee):
		fmt.Fprintln(o.Err, "error:", ee.err)
		return ee.code
	}
	fmt.Fprintln(o.Err, "error:", err)
	return ExitError
}

// exitError ends the command with a code; a nil err prints nothing more.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

// flags are the options every subcommand shares, named as kubectl names them.
type flags struct {
	kubeconfig, kubeContext, namespace string
	providerConfig                     string
	credentialsNamespace               string
	allowInsecureHTTP                  bool
	allowedHosts                       map[connection.Provider]*string
}

// NewCommand is the root command.
func NewCommand(o *Options) *cobra.Command {
	f := &flags{allowedHosts: map[connection.Provider]*string{}}
	root := &cobra.Command{
		Use:   "kubectl-contactsync",
		Short: "Adopt what already exists in HostUp and ONLYOFFICE, and plan what contactsync would change",
		Long: `kubectl contactsync reads a ProviderConfig and its credentials Secret with your own
kubeconfig rights and talks to HostUp or ONLYOFFICE with contactsync's own clients. It never
writes to a provider or to the cluster.

  import     write ready-to-commit YAML for contacts and grants that already exist
  catalogue  list an account's services, domains and DNS zones, or a portal's users
  plan       show, for files of ContactAccess and DelegatedGrant objects, what Enforce would
             change; exit code 0 when nothing would, 2 when something would, 1 on error`,
		Example: `  # Import a HostUp contact and a delegated grant, read-only (Observe, Orphan)
  kubectl contactsync -n team-a import hostup-contact 8722 -p hostup > contacts.yaml
  kubectl contactsync -n team-a import grants -p hostup > grants.yaml

  # What would Enforce change? (exit code 2 when something would)
  kubectl contactsync -n team-a plan -f contacts.yaml

  # Ids and names to write in a spec
  kubectl contactsync -n team-a catalogue -p hostup --contact 8722`,
		SilenceUsage:  true,
		SilenceErrors: true,
		// Help reads as kubectl runs it: "kubectl contactsync plan ...".
		Annotations: map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl contactsync"},
	}
	pf := root.PersistentFlags()
	pf.StringVar(&f.kubeconfig, "kubeconfig", "", "Path to the kubeconfig file (default: $KUBECONFIG or ~/.kube/config).")
	pf.StringVar(&f.kubeContext, "context", "", "The kubeconfig context to use.")
	pf.StringVarP(&f.namespace, "namespace", "n", "", "Namespace of the ProviderConfig and the objects (default: the context's namespace).")
	pf.StringVarP(&f.providerConfig, "provider-config", "p", "", "ProviderConfig of the namespace to use (default: the only one of the needed provider there), or ClusterProviderConfig/NAME.")
	pf.StringVar(&f.credentialsNamespace, "credentials-namespace", "contactsync-system", "Where the credentials Secret of a ClusterProviderConfig that names no spec.credentialsNamespace is (the controller's namespace), as the manager flag of the same name.")
	pf.BoolVar(&f.allowInsecureHTTP, "allow-insecure-http", false, "Send credentials to plain http base URLs (local fakes only), as the manager flag of the same name.")
	for _, p := range []connection.Provider{connection.HostUp, connection.OnlyOffice} {
		def := ""
		if p == connection.HostUp {
			def = "cloud.hostup.se"
		}
		f.allowedHosts[p] = pf.String(string(p)+"-allowed-hosts", def, fmt.Sprintf("Comma-separated hosts a %s ProviderConfig's baseURL may name, as the manager flag of the same name (empty allows any host).", p))
	}
	root.AddCommand(newImportCommand(o, f), newCatalogueCommand(o, f), newPlanCommand(o, f))
	return root
}

// session is what a subcommand works with: the cluster, the namespace and the providers.
type session struct {
	o    *Options
	f    *flags
	kube client.Client
	ns   string
	pool *connection.Pool
}

func (o *Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

func newSession(o *Options, f *flags) (*session, error) {
	cfg, ns := o.RESTConfig, f.namespace
	if cfg == nil && o.Kube == nil {
		rules := clientcmd.NewDefaultClientConfigLoadingRules()
		rules.ExplicitPath = f.kubeconfig
		cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: f.kubeContext})
		var err error
		if cfg, err = cc.ClientConfig(); err != nil {
			return nil, fmt.Errorf("cannot load the kubeconfig: %w", err)
		}
		if ns == "" {
			if ns, _, err = cc.Namespace(); err != nil {
				return nil, fmt.Errorf("cannot read the kubeconfig's namespace: %w", err)
			}
		}
	}
	if ns == "" {
		ns = "default"
	}
	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(accessv1alpha1.AddToScheme(scheme))
	kube := o.Kube
	if kube == nil {
		var err error
		if kube, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
			return nil, fmt.Errorf("cannot reach the cluster: %w", err)
		}
	}
	hosts := map[connection.Provider][]string{}
	for p, v := range f.allowedHosts {
		for _, h := range strings.Split(*v, ",") {
			if h = strings.TrimSpace(h); h != "" {
				hosts[p] = append(hosts[p], h)
			}
		}
	}
	pool := &connection.Pool{
		HTTPClient: o.HTTPClient, Log: logr.Discard(),
		Endpoints: connection.EndpointPolicy{AllowInsecureHTTP: f.allowInsecureHTTP, AllowedHosts: hosts},
		// The same opt-in rule as the controller: only Secrets labelled
		// access.contactsync.dev/credentials: "true" are read, with the user's own rights.
		Secrets:             connection.SecretReader{Cached: kube, Metadata: kube},
		ControllerNamespace: f.credentialsNamespace,
	}
	return &session{o: o, f: f, kube: kube, ns: ns, pool: pool}, nil
}

// parseRef reads -p: NAME (a ProviderConfig of the namespace) or ClusterProviderConfig/NAME.
func parseRef(v string) (accessv1alpha1.ProviderConfigReference, error) {
	kind, name, ok := strings.Cut(v, "/")
	if !ok {
		return accessv1alpha1.ProviderConfigReference{Name: v}, nil
	}
	switch strings.ToLower(kind) {
	case "providerconfig", "providerconfigs":
		return accessv1alpha1.ProviderConfigReference{Name: name}, nil
	case "clusterproviderconfig", "clusterproviderconfigs":
		return accessv1alpha1.ProviderConfigReference{Kind: accessv1alpha1.KindClusterProviderConfig, Name: name}, nil
	}
	return accessv1alpha1.ProviderConfigReference{}, fmt.Errorf("-p %q: give NAME (a ProviderConfig of the namespace) or ClusterProviderConfig/NAME", v)
}

// config finds the provider config to use for objects of namespace ns: the one -p names,
// resolved as the controller resolves spec.providerConfigRef (a ClusterProviderConfig must
// allow ns), else the only ProviderConfig of the wanted provider in ns (want "" accepts
// either provider).
func (s *session) config(ctx context.Context, ns string, want connection.Provider) (*connection.Config, error) {
	if s.f.providerConfig != "" {
		ref, err := parseRef(s.f.providerConfig)
		if err != nil {
			return nil, err
		}
		return s.configOf(ctx, ns, ref, want)
	}
	list := &accessv1alpha1.ProviderConfigList{}
	if err := s.kube.List(ctx, list, client.InNamespace(ns)); err != nil {
		return nil, fmt.Errorf("cannot list ProviderConfigs in namespace %q: %w", ns, err)
	}
	var found []*connection.Config
	var names []string
	for i := range list.Items {
		c := connection.ConfigOf(&list.Items[i], s.pool.ControllerNamespace)
		if want == "" || c.Provider() == want {
			found = append(found, c)
			names = append(names, c.Name)
		}
	}
	sort.Strings(names)
	what := string(want)
	if want == "" {
		what = "hostup or onlyoffice"
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return nil, fmt.Errorf("no %s ProviderConfig in namespace %q: choose one with -p NAME or -p ClusterProviderConfig/NAME (and -n for the namespace)", what, ns)
	}
	return nil, fmt.Errorf("%d %s ProviderConfigs in namespace %q (%s): choose one with -p", len(found), what, ns, strings.Join(names, ", "))
}

// configOf resolves ref for an object of namespace ns, exactly as the controller does, and
// checks the provider. The error carries the condition reason the controller would report.
func (s *session) configOf(ctx context.Context, ns string, ref accessv1alpha1.ProviderConfigReference, want connection.Provider) (*connection.Config, error) {
	c, err := s.pool.Resolver(s.kube).Config(ctx, ns, ref)
	if err != nil {
		return nil, err
	}
	if got := c.Provider(); want != "" && got != want {
		return nil, reconciler.Fail(reconciler.Stalled(accessv1alpha1.ReasonProviderMismatch,
			fmt.Sprintf("%s is for %s, this needs %s", c.Key(), got, want), false))
	}
	return c, nil
}

// refOf is how an imported object names c.
func refOf(c *connection.Config) accessv1alpha1.ProviderConfigReference {
	if c.Kind == accessv1alpha1.KindClusterProviderConfig {
		return accessv1alpha1.ProviderConfigReference{Kind: c.Kind, Name: c.Name}
	}
	return accessv1alpha1.ProviderConfigReference{Name: c.Name}
}

// connection is config then connect, for the namespace of the session.
func (s *session) connection(ctx context.Context, want connection.Provider) (*connection.Config, *connection.Connection, error) {
	pc, err := s.config(ctx, s.ns, want)
	if err != nil {
		return nil, nil, describe("provider config", err)
	}
	conn, err := s.connect(ctx, pc)
	if err != nil {
		return nil, nil, err
	}
	return pc, conn, nil
}

// connect returns the provider connection of c, built exactly as the controller builds it.
func (s *session) connect(ctx context.Context, c *connection.Config) (*connection.Connection, error) {
	conn, err := s.pool.ConnectConfig(ctx, s.kube, c)
	if err != nil {
		return nil, describe(c.Key(), err)
	}
	return conn, nil
}

// describe words an error of the controller's code as a person reads it: its condition
// reason and message. Provider clients redact every credential from their errors.
func describe(what string, err error) error {
	var oe *reconciler.OutcomeError
	if errors.As(err, &oe) {
		return fmt.Errorf("%s: %s: %s", what, oe.Outcome.Reason, oe.Outcome.Message)
	}
	o := reconciler.Classify(err)
	return fmt.Errorf("%s: %s: %s", what, o.Reason, o.Message)
}

func outputFlag(cmd *cobra.Command, output *string, def string, allowed ...string) {
	cmd.Flags().StringVarP(output, "output", "o", def, "Output format: "+strings.Join(allowed, ", ")+".")
}

func checkOutput(output string, allowed ...string) error {
	for _, a := range allowed {
		if output == a {
			return nil
		}
	}
	return &exitError{ExitError, fmt.Errorf("unknown output format %q (allowed: %s)", output, strings.Join(allowed, ", "))}
}
