// Package docs holds the user documentation. This test keeps it from drifting from the code:
// every YAML example is applied to a real API server (server-side dry run), and every
// condition reason, event reason, metric, manager flag, make target and kubectl resource name
// the docs mention must exist.
package docs

import (
	"context"
	"flag"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/contactsync/contactsync/controllers" // registers every metric of the manager
	"github.com/contactsync/contactsync/internal/cli"
	"github.com/contactsync/contactsync/test/dryrun"
)

const root = ".."

// doc is one Markdown file of the user documentation.
type doc struct {
	path string
	text string
}

func docs(t *testing.T) []doc {
	t.Helper()
	files, err := filepath.Glob("*.md")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, filepath.Join(root, "README.md"))
	var out []doc
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, doc{path: f, text: string(raw)})
	}
	if len(out) < 5 {
		t.Fatalf("found only %d docs", len(out))
	}
	return out
}

// block is a fenced code block.
type block struct {
	lang, marker, body string
	line               int
}

var markerRE = regexp.MustCompile(`^<!-- docs-test: (.+?) -->$`)

// blocks returns the fenced code blocks of d. A line `<!-- docs-test: ... -->` right before
// a fence is its marker.
func blocks(d doc) []block {
	var out []block
	lines := strings.Split(d.text, "\n")
	for i := 0; i < len(lines); i++ {
		indent := len(lines[i]) - len(strings.TrimLeft(lines[i], " "))
		fence, ok := strings.CutPrefix(strings.TrimLeft(lines[i], " "), "```")
		if !ok {
			continue
		}
		b := block{lang: strings.Fields(fence + " x")[0], line: i + 1}
		if fence == "" {
			b.lang = ""
		}
		if i > 0 {
			if m := markerRE.FindStringSubmatch(strings.TrimSpace(lines[i-1])); m != nil {
				b.marker = m[1]
			}
		}
		var body []string
		for i++; i < len(lines) && !strings.HasPrefix(strings.TrimLeft(lines[i], " "), "```"); i++ {
			l := lines[i]
			if len(l) >= indent && strings.TrimSpace(l[:indent]) == "" {
				l = l[indent:] // a block inside a list item
			}
			body = append(body, l)
		}
		b.body = strings.Join(body, "\n")
		out = append(out, b)
	}
	return out
}

// prose is d without its fenced blocks.
func prose(d doc) string {
	var out []string
	in := false
	for _, l := range strings.Split(d.text, "\n") {
		if strings.HasPrefix(strings.TrimLeft(l, " "), "```") {
			in = !in
			continue
		}
		if !in {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

var codeSpanRE = regexp.MustCompile("`([^`\n]+)`")

// codeSpans returns the inline code of d's prose and tables.
func codeSpans(d doc) []string {
	var out []string
	for _, m := range codeSpanRE.FindAllStringSubmatch(prose(d), -1) {
		out = append(out, m[1])
	}
	return out
}

// TestYAMLExamplesApply applies every YAML example of the docs, and every sample of
// config/samples, to an API server with the CRDs and server-side dry run. A block that is
// not a whole object says so with a marker before its fence:
//
//	<!-- docs-test: fragment KIND.path -->  its keys are checked against the schema at path
//	<!-- docs-test: skip why -->            not checked (e.g. a kustomization)
func TestYAMLExamplesApply(t *testing.T) {
	schemas := crdSchemas(t)
	type example struct {
		where string
		obj   *unstructured.Unstructured
	}
	var examples []example
	for _, d := range docs(t) {
		for _, b := range blocks(d) {
			if b.lang != "yaml" {
				continue
			}
			where := d.path + ":" + strconv.Itoa(b.line)
			kind, isFragment := strings.CutPrefix(b.marker, "fragment ")
			switch {
			case strings.HasPrefix(b.marker, "skip "):
				continue
			case isFragment:
				checkFragment(t, where, schemas, kind, b.body)
				continue
			case b.marker != "":
				t.Errorf("%s: unknown marker %q", where, b.marker)
				continue
			}
			objs, err := dryrun.Parse([]byte(b.body))
			if err != nil {
				t.Errorf("%s: %v", where, err)
				continue
			}
			for _, o := range objs {
				if o.GetAPIVersion() == "" || o.GetKind() == "" {
					t.Errorf("%s: not an object (no apiVersion/kind); mark it <!-- docs-test: fragment KIND.path --> or <!-- docs-test: skip why -->", where)
					continue
				}
				examples = append(examples, example{where, o})
			}
		}
	}
	samples, err := filepath.Glob(filepath.Join(root, "config", "samples", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range samples {
		if filepath.Base(f) == "kustomization.yaml" {
			continue
		}
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		objs, err := dryrun.Parse(raw)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, o := range objs {
			examples = append(examples, example{f, o})
		}
	}
	if len(examples) < 10 {
		t.Fatalf("found only %d examples", len(examples))
	}
	c := dryrun.Start(t, filepath.Join(root, "config", "crd", "bases"))
	for _, e := range examples {
		for _, err := range dryrun.Apply(context.Background(), c, "default", []*unstructured.Unstructured{e.obj}) {
			t.Errorf("%s: %v", e.where, err)
		}
	}
}

// crdSchemas reads the generated CRDs' schemas by kind.
func crdSchemas(t *testing.T) map[string]apiextensionsv1.JSONSchemaProps {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(root, "config", "crd", "bases", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]apiextensionsv1.JSONSchemaProps{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var crd apiextensionsv1.CustomResourceDefinition
		if err := sigsyaml.Unmarshal(raw, &crd); err != nil {
			t.Fatal(err)
		}
		out[crd.Spec.Names.Kind] = *crd.Spec.Versions[0].Schema.OpenAPIV3Schema
	}
	return out
}

// checkFragment checks that every key of a YAML fragment is a property of the schema at
// "Kind.path.to.object".
func checkFragment(t *testing.T, where string, schemas map[string]apiextensionsv1.JSONSchemaProps, at, body string) {
	t.Helper()
	parts := strings.Split(at, ".")
	s, ok := schemas[parts[0]]
	if !ok {
		t.Errorf("%s: fragment of unknown kind %q", where, parts[0])
		return
	}
	for _, p := range parts[1:] {
		if s, ok = s.Properties[p]; !ok {
			t.Errorf("%s: %s has no property %s", where, parts[0], at)
			return
		}
	}
	var v any
	if err := sigsyaml.Unmarshal([]byte(body), &v); err != nil {
		t.Errorf("%s: %v", where, err)
		return
	}
	var walk func(path string, v any, s apiextensionsv1.JSONSchemaProps)
	walk = func(path string, v any, s apiextensionsv1.JSONSchemaProps) {
		switch v := v.(type) {
		case map[string]any:
			if s.XPreserveUnknownFields != nil && *s.XPreserveUnknownFields {
				return
			}
			for k, child := range v {
				cs, ok := s.Properties[k]
				if !ok {
					t.Errorf("%s: %s.%s is not in the schema", where, path, k)
					continue
				}
				walk(path+"."+k, child, cs)
			}
		case []any:
			if s.Items == nil || s.Items.Schema == nil {
				return
			}
			for _, child := range v {
				walk(path+"[]", child, *s.Items.Schema)
			}
		}
	}
	walk(at, v, s)
}

// goConsts returns the string constants whose names start with prefix, declared in the
// non-test Go files below dirs.
func goConsts(t *testing.T, prefix string, dirs ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	fset := token.NewFileSet()
	for _, dir := range dirs {
		err := filepath.WalkDir(filepath.Join(root, dir), func(path string, e os.DirEntry, err error) error {
			if err != nil || e.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			f, err := parser.ParseFile(fset, path, nil, 0)
			if err != nil {
				return err
			}
			for _, decl := range f.Decls {
				g, ok := decl.(*ast.GenDecl)
				if !ok || g.Tok != token.CONST {
					continue
				}
				for _, spec := range g.Specs {
					vs := spec.(*ast.ValueSpec)
					for i, n := range vs.Names {
						if !strings.HasPrefix(n.Name, prefix) || i >= len(vs.Values) {
							continue
						}
						if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
							v, _ := strconv.Unquote(lit.Value)
							out[v] = n.Name
						}
					}
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(out) == 0 {
		t.Fatalf("no %s constants in %v", prefix, dirs)
	}
	return out
}

var (
	reasonsRowRE = regexp.MustCompile("(?m)^\\| `([A-Za-z]+)` \\| ")
	reasonRefRE  = regexp.MustCompile("[Rr]easons?:? `([A-Za-z]+)`")
	eventRowRE   = regexp.MustCompile("(?m)^\\| `([A-Za-z]+)` \\| (?:Normal|Warning) \\|")
)

// TestReasonsExist: the reasons table of conditions.md is exactly the Reason constants of the
// API; every "reason `X`" anywhere in the docs is one; every row of an events table is an
// event reason or a condition reason the controller emits.
func TestReasonsExist(t *testing.T) {
	reasons := goConsts(t, "Reason", "api")
	events := goConsts(t, "Event", "internal", "controllers")
	all := docs(t)
	for _, d := range all {
		if filepath.Base(d.path) != "conditions.md" {
			continue
		}
		_, table, ok := strings.Cut(d.text, "\n## Reasons\n")
		if !ok {
			t.Fatal("conditions.md has no Reasons section")
		}
		table, _, _ = strings.Cut(table, "\n## ")
		documented := map[string]bool{}
		for _, m := range reasonsRowRE.FindAllStringSubmatch(table, -1) {
			documented[m[1]] = true
			if _, ok := reasons[m[1]]; !ok {
				t.Errorf("conditions.md documents reason %s, which is no Reason constant of api/v1alpha1", m[1])
			}
		}
		for r, name := range reasons {
			if !documented[r] {
				t.Errorf("reason %s (%s) is missing from the table in conditions.md#reasons", r, name)
			}
		}
	}
	for _, d := range all {
		text := prose(d)
		for _, m := range reasonRefRE.FindAllStringSubmatch(text, -1) {
			if _, ok := reasons[m[1]]; !ok {
				t.Errorf("%s names reason %s, which is no Reason constant of api/v1alpha1", d.path, m[1])
			}
		}
		for _, m := range eventRowRE.FindAllStringSubmatch(text, -1) {
			_, isEvent := events[m[1]]
			_, isReason := reasons[m[1]]
			if !isEvent && !isReason {
				t.Errorf("%s lists event %s, which the controller never emits (no Event or Reason constant)", d.path, m[1])
			}
		}
	}
}

var (
	metricRE   = regexp.MustCompile(`\b((?:contactsync|controller_runtime|workqueue)_[a-z_]+)`)
	descNameRE = regexp.MustCompile(`fqName: "([^"]+)"`)
)

// registeredMetrics are the metric names the manager registers (controller-runtime's
// registry, which its metrics endpoint serves).
func registeredMetrics(t *testing.T) map[string]bool {
	t.Helper()
	_ = controllers.Options{} // the import registers the collectors
	c, ok := ctrlmetrics.Registry.(prometheus.Collector)
	if !ok {
		t.Fatal("controller-runtime's registry is no prometheus.Collector")
	}
	ch := make(chan *prometheus.Desc, 64)
	go func() { c.Describe(ch); close(ch) }()
	out := map[string]bool{}
	for d := range ch {
		if m := descNameRE.FindStringSubmatch(d.String()); m != nil {
			out[m[1]] = true
		}
	}
	return out
}

// TestMetricsExist: every metric the docs name (in prose, tables and PromQL) is registered,
// and metrics.md documents every contactsync_ metric.
func TestMetricsExist(t *testing.T) {
	registered := registeredMetrics(t)
	documented := map[string]bool{}
	for _, d := range docs(t) {
		for _, m := range metricRE.FindAllString(d.text, -1) {
			name := m
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				if base, ok := strings.CutSuffix(m, suffix); ok && registered[base] {
					name = base
				}
			}
			if !registered[name] {
				t.Errorf("%s names metric %s, which the manager does not register", d.path, m)
			}
			if filepath.Base(d.path) == "metrics.md" {
				documented[name] = true
			}
		}
	}
	for m := range registered {
		if strings.HasPrefix(m, "contactsync_") && !documented[m] {
			t.Errorf("metric %s is not documented in metrics.md", m)
		}
	}
}

// managerFlags are the flags of cmd/main.go: its own (read from the source, since main
// declares them in main) and those of controllers.Options and controller-runtime's zap options.
func managerFlags(t *testing.T) map[string]bool {
	t.Helper()
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	(&controllers.Options{}).BindFlags(fs)
	(&zap.Options{}).BindFlags(fs)
	out := map[string]bool{}
	fs.VisitAll(func(f *flag.Flag) { out[f.Name] = true })
	src, err := os.ReadFile(filepath.Join(root, "cmd", "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	own := regexp.MustCompile(`flag\.\w+Var\(&\w+, "([a-z0-9-]+)"`).FindAllStringSubmatch(string(src), -1)
	if len(own) < 3 {
		t.Fatalf("found only %d flags in cmd/main.go", len(own))
	}
	for _, m := range own {
		out[m[1]] = true
	}
	return out
}

// pluginFlags are the flags of `kubectl contactsync` and every subcommand of it (cli.md
// documents the plugin, not the manager).
func pluginFlags() map[string]bool {
	out := map[string]bool{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, fs := range []*pflag.FlagSet{c.PersistentFlags(), c.Flags()} {
			fs.VisitAll(func(f *pflag.Flag) { out[f.Name] = true })
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(cli.NewCommand(&cli.Options{}))
	return out
}

// otherFlags are flags of other tools that the docs show in inline code.
var otherFlags = []string{"create-namespace", "server-side", "dry-run"}

var flagRE = regexp.MustCompile(`^--([a-z][a-z0-9-]*)`)

// TestFlagsExist: every --flag in the docs' inline code is a manager flag (or one of
// otherFlags), and the flag table of install.md lists every manager flag.
func TestFlagsExist(t *testing.T) {
	flags := managerFlags(t)
	plugin := pluginFlags()
	for _, d := range docs(t) {
		for _, span := range codeSpans(d) {
			m := flagRE.FindStringSubmatch(span)
			if m == nil {
				continue
			}
			if filepath.Base(d.path) == "cli.md" {
				if !plugin[m[1]] && !slices.Contains(otherFlags, m[1]) {
					t.Errorf("%s names flag --%s, which kubectl contactsync does not have", d.path, m[1])
				}
				continue
			}
			if !flags[m[1]] && !slices.Contains(otherFlags, m[1]) {
				t.Errorf("%s names flag --%s, which the manager does not have", d.path, m[1])
			}
		}
		if filepath.Base(d.path) != "install.md" {
			continue
		}
		_, table, ok := strings.Cut(d.text, "\n## Manager flags\n")
		if !ok {
			t.Fatal("install.md has no Manager flags section")
		}
		table, _, _ = strings.Cut(table, "\n## ")
		for f := range flags {
			if !strings.Contains(table, "`--"+f+"`") {
				t.Errorf("manager flag --%s is missing from install.md#manager-flags", f)
			}
		}
	}
}

// TestMakeTargetsExist: every `make TARGET` in inline code or a shell block is a target of
// the Makefile.
func TestMakeTargetsExist(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	targets := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^([a-zA-Z0-9_-]+):`).FindAllStringSubmatch(string(raw), -1) {
		targets[m[1]] = true
	}
	makeRE := regexp.MustCompile(`(?:^|[;&|(]\s*)make ((?:[a-z][a-z0-9-]*\s*)+)`)
	check := func(where, code string) {
		for _, line := range strings.Split(code, "\n") {
			for _, m := range makeRE.FindAllStringSubmatch(line, -1) {
				for _, target := range strings.Fields(m[1]) {
					if !targets[target] {
						t.Errorf("%s: `make %s`: no such target in the Makefile", where, target)
					}
				}
			}
		}
	}
	seen := 0
	for _, d := range docs(t) {
		for _, span := range codeSpans(d) {
			check(d.path, span)
			if strings.HasPrefix(span, "make ") {
				seen++
			}
		}
		for _, b := range blocks(d) {
			if b.lang == "sh" || b.lang == "" {
				check(d.path+":"+strconv.Itoa(b.line), b.body)
			}
		}
	}
	if seen < 10 {
		t.Fatalf("found only %d make commands in the docs", seen)
	}
}

// TestKubectlNamesExist: `kubectl <verb> <resource>` in the docs names a resource that exists:
// one of ours by short name, plural, singular or category, or a built-in one.
func TestKubectlNamesExist(t *testing.T) {
	names := map[string]bool{"contactsync": true}
	for kind := range crdSchemas(t) {
		names[strings.ToLower(kind)] = true
	}
	files, _ := filepath.Glob(filepath.Join(root, "config", "crd", "bases", "*.yaml"))
	for _, f := range files {
		raw, _ := os.ReadFile(f)
		var crd apiextensionsv1.CustomResourceDefinition
		if err := sigsyaml.Unmarshal(raw, &crd); err != nil {
			t.Fatal(err)
		}
		n := crd.Spec.Names
		names[n.Plural], names[n.Singular] = true, true
		for _, s := range n.ShortNames {
			names[s] = true
		}
	}
	builtin := []string{"secret", "secrets", "crd", "crds", "deploy", "deployment", "pod", "pods", "namespace", "ns", "events", "lease", "leases", "configmap", "cm"}
	re := regexp.MustCompile(`kubectl (?:-n \S+ )?(get|describe|annotate|patch|wait|label|edit|delete) ([a-z][a-z,./-]*)`)
	var found []string
	for _, d := range docs(t) {
		for _, m := range re.FindAllStringSubmatch(d.text, -1) {
			for _, r := range strings.Split(m[2], ",") {
				r, _, _ = strings.Cut(r, "/")
				r, _, _ = strings.Cut(r, ".") // plural.group
				if r == "" {
					continue
				}
				found = append(found, r)
				if !names[r] && !slices.Contains(builtin, r) {
					t.Errorf("%s: `%s` names resource %q: not a contactsync name (%v) nor a built-in one", d.path, m[0], r, sortedKeys(names))
				}
			}
		}
	}
	if len(found) < 5 {
		t.Fatalf("found only %d kubectl resource names", len(found))
	}
}

func sortedKeys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestRBACTable: the RBAC table of install.md names every resource and verb of the generated
// ClusterRole (config/rbac/role.yaml).
func TestRBACTable(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(root, "config", "rbac", "role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var role struct {
		Rules []struct {
			APIGroups []string `json:"apiGroups"`
			Resources []string `json:"resources"`
			Verbs     []string `json:"verbs"`
		} `json:"rules"`
	}
	if err := sigsyaml.Unmarshal(raw, &role); err != nil {
		t.Fatal(err)
	}
	var section string
	for _, d := range docs(t) {
		if filepath.Base(d.path) == "install.md" {
			_, section, _ = strings.Cut(d.text, "\n## RBAC\n")
			section, _, _ = strings.Cut(section, "\n### ")
		}
	}
	if section == "" {
		t.Fatal("install.md has no RBAC section")
	}
	rows := strings.Split(section, "\n")
	for _, r := range role.Rules {
		for _, res := range r.Resources {
			name := "`" + res + "`"
			if _, sub, ok := strings.Cut(res, "/"); ok {
				name = "`…/" + sub + "`"
			}
			i := slices.IndexFunc(rows, func(row string) bool { return strings.Contains(row, name) })
			if i < 0 {
				t.Errorf("install.md#rbac does not list %s (config/rbac/role.yaml)", res)
				continue
			}
			for _, v := range r.Verbs {
				if !strings.Contains(rows[i], v) {
					t.Errorf("install.md#rbac: the row of %s lacks the verb %s", res, v)
				}
			}
		}
	}
}
