package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	accessv1alpha1 "github.com/contactsync/contactsync/api/v1alpha1"
	"github.com/contactsync/contactsync/internal/external/connection"
	"github.com/contactsync/contactsync/internal/external/hostupcontact"
	"github.com/contactsync/contactsync/internal/external/hostupgrant"
	"github.com/contactsync/contactsync/internal/external/onlyofficecontact"
	"github.com/contactsync/contactsync/internal/reconciler"
)

// PlanItem is the plan of one object: the changes managementPolicy Enforce would make now, in
// the words of its status.plan, or why none can be planned.
type PlanItem struct {
	Kind           string   `json:"kind"`
	Namespace      string   `json:"namespace"`
	Name           string   `json:"name"`
	ProviderConfig string   `json:"providerConfig,omitempty"`
	Changes        []string `json:"changes"`
	// Reason and Error: the condition reason and message of an object that cannot be planned
	// (an unknown resource or manager, a contact that is gone, a ProviderConfig not found).
	Reason string `json:"reason,omitempty"`
	Error  string `json:"error,omitempty"`
}

// PlanResult is the output of `plan -o json|yaml`.
type PlanResult struct {
	Items   []PlanItem `json:"items"`
	Changed int        `json:"changed"`
	Errors  int        `json:"errors"`
}

func newPlanCommand(o *Options, f *flags) *cobra.Command {
	var output string
	var files []string
	var recursive bool
	cmd := &cobra.Command{
		Use:   "plan -f FILE|DIR...",
		Short: "Show what managementPolicy Enforce would change for the objects in files",
		Long: `plan reads the ContactAccess and DelegatedGrant objects in the files (other kinds are skipped),
reads the live provider through each object's ProviderConfig, and prints the changes Enforce
would make, in the same words as the object's status.plan. An object that already exists in the
cluster is planned with what the controller recorded for it (the contact or grant it created).
Nothing is written to the provider or to the cluster.

Exit codes: 0 when nothing would change, 2 when something would, 1 on an error (a file that
does not parse, an object that cannot be planned: unknown resource or manager, missing
ProviderConfig, rejected credentials). Use it as a pull-request check.`,
		Example: `  # A pull-request check: fails (2) when merging would change access
  kubectl contactsync -n team-a plan -f access/

  kubectl contactsync plan -f contacts.yaml -f grants.yaml -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output, "text", "yaml", "json"); err != nil {
				return err
			}
			if len(files) == 0 {
				return &exitError{ExitError, errors.New("give the files to plan with -f FILE|DIR (- reads standard input)")}
			}
			objs, err := readObjects(files, recursive, cmd.InOrStdin())
			if err != nil {
				return &exitError{ExitError, err}
			}
			s, err := newSession(o, f)
			if err != nil {
				return err
			}
			res := s.plan(cmd.Context(), objs)
			if err := writePlan(o.Out, output, res); err != nil {
				return err
			}
			switch {
			case res.Errors > 0:
				return &exitError{code: ExitError}
			case res.Changed > 0:
				return &exitError{code: ExitChanges}
			}
			return nil
		},
	}
	cmd.Flags().StringArrayVarP(&files, "filename", "f", nil, "A file or folder of YAML/JSON manifests (repeatable; - for standard input).")
	cmd.Flags().BoolVarP(&recursive, "recursive", "R", false, "Read the folders given with -f recursively.")
	outputFlag(cmd, &output, "text", "text", "yaml", "json")
	return cmd
}

// readObjects decodes the ContactAccess and DelegatedGrant objects of files; unknown fields are
// an error, as the API server's strict field validation would report them.
func readObjects(files []string, recursive bool, stdin io.Reader) ([]reconciler.Object, error) {
	var paths []string
	for _, f := range files {
		if f == "-" {
			paths = append(paths, f)
			continue
		}
		st, err := os.Stat(f)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			paths = append(paths, f)
			continue
		}
		err = filepath.WalkDir(f, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if p != f && !recursive {
					return filepath.SkipDir
				}
				return nil
			}
			switch strings.ToLower(filepath.Ext(p)) {
			case ".yaml", ".yml", ".json":
				paths = append(paths, p)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	var out []reconciler.Object
	for _, p := range paths {
		r := stdin
		if p != "-" {
			raw, err := os.ReadFile(p)
			if err != nil {
				return nil, err
			}
			r = bytes.NewReader(raw)
		}
		dec := utilyaml.NewYAMLOrJSONDecoder(bufio.NewReader(r), 4096)
		for i := 0; ; i++ {
			u := &unstructured.Unstructured{}
			if err := dec.Decode(&u.Object); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				return nil, fmt.Errorf("%s: document %d: %w", p, i+1, err)
			}
			if len(u.Object) == 0 {
				continue
			}
			gv := u.GroupVersionKind()
			if gv.Group != accessv1alpha1.GroupVersion.Group {
				continue
			}
			var obj reconciler.Object
			switch gv.Kind {
			case "ContactAccess":
				obj = &accessv1alpha1.ContactAccess{}
			case "DelegatedGrant":
				obj = &accessv1alpha1.DelegatedGrant{}
			default:
				continue // ProviderConfigs are read from the cluster
			}
			if gv.Version != accessv1alpha1.GroupVersion.Version {
				return nil, fmt.Errorf("%s: %s %s: apiVersion %s is not served (use %s)", p, gv.Kind, u.GetName(), u.GetAPIVersion(), accessv1alpha1.GroupVersion)
			}
			if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(u.Object, obj, true); err != nil {
				return nil, fmt.Errorf("%s: %s %s: %w", p, gv.Kind, u.GetName(), err)
			}
			out = append(out, obj)
		}
	}
	return out, nil
}

// plan plans every object; connections are shared per ProviderConfig as in the controller.
func (s *session) plan(ctx context.Context, objs []reconciler.Object) PlanResult {
	res := PlanResult{Items: []PlanItem{}}
	for _, obj := range objs {
		it := s.planOne(ctx, obj)
		switch {
		case it.Error != "":
			res.Errors++
		case len(it.Changes) > 0:
			res.Changed++
		}
		res.Items = append(res.Items, it)
	}
	return res
}

func (s *session) planOne(ctx context.Context, obj reconciler.Object) (it PlanItem) {
	if obj.GetNamespace() == "" {
		obj.SetNamespace(s.ns)
	}
	kind := "ContactAccess"
	if _, ok := obj.(*accessv1alpha1.DelegatedGrant); ok {
		kind = "DelegatedGrant"
	}
	it = PlanItem{Kind: kind, Namespace: obj.GetNamespace(), Name: obj.GetName(), Changes: []string{}}
	fail := func(err error) PlanItem {
		o := reconciler.Classify(err)
		it.Reason, it.Error = o.Reason, o.Message
		return it
	}
	if err := s.withLiveRecord(ctx, obj); err != nil {
		return fail(err)
	}
	ext, pcName, err := s.external(ctx, obj)
	it.ProviderConfig = pcName
	if err != nil {
		return fail(err)
	}
	obs, err := ext(ctx)
	if err != nil {
		return fail(err)
	}
	if obs.Result != nil && obs.Result.Kind != reconciler.KindReady {
		it.Reason, it.Error = obs.Result.Reason, obs.Result.Message
		return it
	}
	it.Changes = append(it.Changes, reconciler.Pending(obs)...)
	return it
}

// withLiveRecord copies onto obj what the controller recorded on the object of the same name
// in the cluster (the id of the contact or grant it created, its status): the plan is then
// what the controller would see once the file is applied.
func (s *session) withLiveRecord(ctx context.Context, obj reconciler.Object) error {
	live := obj.DeepCopyObject().(reconciler.Object)
	err := s.kube.Get(ctx, types.NamespacedName{Namespace: obj.GetNamespace(), Name: obj.GetName()}, live)
	switch {
	case apierrors.IsNotFound(err):
		return nil
	case err != nil:
		return fmt.Errorf("cannot read %s/%s from the cluster: %w", obj.GetNamespace(), obj.GetName(), err)
	}
	ann := obj.GetAnnotations()
	for _, k := range []string{accessv1alpha1.AnnotationCreatedID, accessv1alpha1.AnnotationCreatePending} {
		if v, ok := live.GetAnnotations()[k]; ok {
			if ann == nil {
				ann = map[string]string{}
			}
			ann[k] = v
		}
	}
	obj.SetAnnotations(ann)
	switch o := obj.(type) {
	case *accessv1alpha1.ContactAccess:
		o.Status = live.(*accessv1alpha1.ContactAccess).Status
	case *accessv1alpha1.DelegatedGrant:
		o.Status = live.(*accessv1alpha1.DelegatedGrant).Status
	}
	return nil
}

// external returns the observation of obj by its provider's external client, chosen as the
// controller chooses it.
func (s *session) external(ctx context.Context, obj reconciler.Object) (func(context.Context) (reconciler.Observation, error), string, error) {
	var ref accessv1alpha1.ProviderConfigReference
	var want connection.Provider
	switch o := obj.(type) {
	case *accessv1alpha1.ContactAccess:
		ref, want = o.Spec.ProviderConfigRef, connection.OnlyOffice
		if o.Spec.HostUp != nil {
			want = connection.HostUp
		}
		if (o.Spec.HostUp == nil) == (o.Spec.OnlyOffice == nil) {
			return nil, ref.Name, reconciler.Fail(reconciler.Stalled(accessv1alpha1.ReasonInvalidSpec, "exactly one of spec.hostup or spec.onlyoffice must be set", false))
		}
	case *accessv1alpha1.DelegatedGrant:
		ref, want = o.Spec.ProviderConfigRef, connection.HostUp
	}
	if ref.Name == "" {
		return nil, "", reconciler.Fail(reconciler.Stalled(accessv1alpha1.ReasonInvalidSpec, "spec.providerConfigRef.name is not set", false))
	}
	pc, err := s.configOf(ctx, obj.GetNamespace(), ref, want)
	if err != nil {
		return nil, ref.Name, err
	}
	conn, err := s.pool.ConnectConfig(ctx, s.kube, pc)
	if err != nil {
		return nil, pc.Key(), err
	}
	switch o := obj.(type) {
	case *accessv1alpha1.ContactAccess:
		interval := s.pool.SyncIntervalOf(o.Spec.SyncInterval, pc.Spec)
		if want == connection.HostUp {
			e := &hostupcontact.External{API: conn.HostUp, Secrets: s.pool.Secrets}
			return func(ctx context.Context) (reconciler.Observation, error) { return e.Observe(ctx, o) }, pc.Key(), nil
		}
		e := onlyofficecontact.New(conn, interval, s.o.now)
		return func(ctx context.Context) (reconciler.Observation, error) { return e.Observe(ctx, o) }, pc.Key(), nil
	case *accessv1alpha1.DelegatedGrant:
		e := &hostupgrant.External{Conn: conn, Kube: s.kube, Metadata: s.kube, Interval: s.pool.SyncIntervalOf(o.Spec.SyncInterval, pc.Spec), Now: s.o.now}
		return func(ctx context.Context) (reconciler.Observation, error) { return e.Observe(ctx, o) }, pc.Key(), nil
	}
	return nil, pc.Key(), fmt.Errorf("cannot plan %T", obj)
}

func writePlan(w io.Writer, format string, res PlanResult) error {
	switch format {
	case "json":
		b, err := json.MarshalIndent(res, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	case "yaml":
		b, err := yaml.Marshal(res)
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	}
	items := append([]PlanItem(nil), res.Items...)
	sort.SliceStable(items, func(i, j int) bool {
		a, b := items[i], items[j]
		return a.Namespace+"/"+a.Kind+"/"+a.Name < b.Namespace+"/"+b.Kind+"/"+b.Name
	})
	for _, it := range items {
		id := fmt.Sprintf("%s %s/%s", it.Kind, it.Namespace, it.Name)
		switch {
		case it.Error != "":
			fmt.Fprintf(w, "%s: cannot plan: %s: %s\n", id, it.Reason, it.Error)
		case len(it.Changes) == 0:
			fmt.Fprintf(w, "%s: no changes\n", id)
		default:
			fmt.Fprintf(w, "%s: %d change(s)\n", id, len(it.Changes))
			for _, c := range it.Changes {
				fmt.Fprintf(w, "  ~ %s\n", c)
			}
		}
	}
	fmt.Fprintf(w, "Plan: %d object(s), %d would change, %d cannot be planned.\n", len(res.Items), res.Changed, res.Errors)
	return nil
}
