// Package chartgen writes the Helm chart in dist/chart from the output of `kustomize build
// config/default` (and of the optional kustomize directories), so that the chart and the
// kustomize install are the same objects and cannot diverge. Only the fields a Helm user sets
// (image, replicas, resources, manager flags, optional parts) become template expressions; every
// other byte of every object comes from kustomize. `make helm-chart` runs it; a test in
// test/packaging regenerates the chart and fails when dist/chart is stale.
package chartgen

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/util/yaml"
	sigsyaml "sigs.k8s.io/yaml"
)

// InstallNamespace is the namespace config/default installs into; in the chart it becomes the
// release namespace.
const InstallNamespace = "contactsync-system"

// Optional is a kustomize directory that the chart renders only when a value asks for it.
type Optional struct {
	// Key is the values key (e.g. "inviteTokenWriter").
	Key string
	// Source is the kustomize directory, for the generated comments.
	Source string
	// PerNamespace renders the objects once in each namespace of .Values.<Key>.namespaces;
	// otherwise they render once when .Values.<Key>.enabled is true.
	PerNamespace bool
	// Objects is the kustomize output.
	Objects []byte
	// Help is the values.yaml comment.
	Help string
	// Selector names what picks the object up by label (for the comment of .labels).
	Selector string
}

// Input is what the chart is made of.
type Input struct {
	// Default is `kustomize build config/default`.
	Default []byte
	// Optional parts, in values order.
	Optional []Optional
	// Version of the chart.
	Version string
}

// object is one parsed kustomize object.
type object map[string]any

func (o object) kind() string { s, _ := o["kind"].(string); return s }

func (o object) meta() map[string]any {
	m, _ := o["metadata"].(map[string]any)
	return m
}

func (o object) name() string { s, _ := o.meta()["name"].(string); return s }

// Generate returns the chart's files by path relative to the chart directory.
func Generate(in Input) (map[string][]byte, error) {
	objs, err := parse(in.Default)
	if err != nil {
		return nil, fmt.Errorf("cannot parse config/default: %w", err)
	}
	files := map[string][]byte{}
	var crds, rbac, manager, policy []object
	var deploy object
	for _, o := range objs {
		switch o.kind() {
		case "Namespace":
			// Helm installs into the release namespace (helm install -n NS --create-namespace).
		case "CustomResourceDefinition":
			crds = append(crds, o)
		case "ServiceAccount", "Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding":
			rbac = append(rbac, o)
		case "Deployment":
			deploy = o
			manager = append(manager, o)
		case "Service":
			manager = append(manager, o)
		case "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding":
			policy = append(policy, o)
		default:
			return nil, fmt.Errorf("config/default has a %s (%s) the chart generator does not place: add it to hack/chartgen", o.kind(), o.name())
		}
	}
	if deploy == nil {
		return nil, errors.New("config/default has no Deployment")
	}
	d, err := templateDeployment(deploy)
	if err != nil {
		return nil, err
	}

	for _, o := range crds {
		o.meta()["annotations"].(map[string]any)["zzTPL_keep__"] = "x"
		labels(o)
	}
	if files["templates/crds.yaml"], err = render(crds, "{{- if .Values.crds.enabled }}", "{{- end }}"); err != nil {
		return nil, err
	}
	for _, group := range [][]object{rbac, manager, policy} {
		for _, o := range group {
			labels(o)
		}
	}
	if files["templates/rbac.yaml"], err = render(rbac, "", ""); err != nil {
		return nil, err
	}
	if files["templates/manager.yaml"], err = render(manager, "", ""); err != nil {
		return nil, err
	}
	if files["templates/protected-annotations-policy.yaml"], err = render(policy,
		"{{- if .Values.protectedAnnotationsPolicy.enabled }}", "{{- end }}"); err != nil {
		return nil, err
	}
	var optionalValues strings.Builder
	for _, opt := range in.Optional {
		objs, err := parse(opt.Objects)
		if err != nil {
			return nil, fmt.Errorf("cannot parse %s: %w", opt.Source, err)
		}
		for _, o := range objs {
			labels(o)
		}
		begin, end := "{{- if .Values."+opt.Key+".enabled }}", "{{- end }}"
		if !opt.PerNamespace {
			for _, o := range objs {
				o.meta()["labels"].(map[string]any)["zzTPL_labelsOf"+opt.Key+"__"] = "x"
			}
		}
		if opt.PerNamespace {
			begin, end = "{{- range .Values."+opt.Key+".namespaces }}", "{{- end }}"
			for _, o := range objs {
				o.meta()["namespace"] = "__VAL_rangeNamespace__"
			}
		}
		body, err := render(objs, begin, end)
		if err != nil {
			return nil, err
		}
		files["templates/"+kebab(opt.Key)+".yaml"] = body
		fmt.Fprintf(&optionalValues, "\n%s\n", comment(opt.Help+" Rendered from "+opt.Source+"."))
		if opt.PerNamespace {
			fmt.Fprintf(&optionalValues, "%s:\n  namespaces: []\n", opt.Key)
		} else {
			fmt.Fprintf(&optionalValues, "%s:\n  enabled: false\n  # labels added to it, e.g. the one your %s selects by.\n  labels: {}\n", opt.Key, opt.Selector)
		}
	}

	files["Chart.yaml"] = fmt.Appendf(nil, chartYAML, in.Version, d.tag)
	files["values.yaml"] = fmt.Appendf(nil, valuesYAML, d.repository, d.replicas, d.leaderElect,
		indent(d.resources, "  "), d.goMemLimit, d.metricsSecure, optionalValues.String())
	files["templates/_helpers.tpl"] = []byte(helpers(d.args))
	files["templates/NOTES.txt"] = []byte(notes)
	files["README.md"] = []byte(readme)
	return files, nil
}

// deployment holds what the Deployment's templating took out of it: the chart's defaults.
type deployment struct {
	repository, tag string
	replicas        int64
	leaderElect     bool
	metricsSecure   bool
	resources       string
	goMemLimit      string
	args            []string
}

func templateDeployment(o object) (deployment, error) {
	var d deployment
	spec := o["spec"].(map[string]any)
	if r, ok := spec["replicas"].(float64); ok {
		d.replicas = int64(r)
	}
	spec["replicas"] = "__VAL_replicas__"
	pod := spec["template"].(map[string]any)["spec"].(map[string]any)
	pod["zzTPL_podScheduling__"] = "x"
	containers := pod["containers"].([]any)
	if len(containers) != 1 {
		return d, fmt.Errorf("the Deployment has %d containers; the chart generator expects one", len(containers))
	}
	c := containers[0].(map[string]any)
	image, _ := c["image"].(string)
	d.repository, d.tag = image, ""
	if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
		d.repository, d.tag = image[:i], image[i+1:]
	}
	c["image"] = "__VAL_image__"
	c["zzTPL_pullPolicy__"] = "x"
	res, err := sigsyaml.Marshal(c["resources"])
	if err != nil {
		return d, err
	}
	d.resources = string(res)
	delete(c, "resources")
	c["zzTPL_resources__"] = "x"
	for _, e := range c["env"].([]any) {
		e := e.(map[string]any)
		if e["name"] == "GOMEMLIMIT" {
			d.goMemLimit = e["value"].(string)
			e["value"] = "__VAL_goMemLimit__"
		}
	}
	if d.goMemLimit == "" {
		return d, errors.New("the Deployment sets no GOMEMLIMIT")
	}
	for _, a := range c["args"].([]any) {
		a := a.(string)
		switch a {
		case "--leader-elect":
			d.leaderElect = true
		case "--metrics-secure":
			d.metricsSecure = true
		}
		d.args = append(d.args, a)
	}
	delete(c, "args")
	c["zzTPL_args__"] = "x"
	return d, nil
}

// labels adds the chart's labels to an object's own labels (not to pod templates or selectors).
func labels(o object) {
	m := o.meta()
	l, _ := m["labels"].(map[string]any)
	if l == nil {
		l = map[string]any{}
		m["labels"] = l
	}
	l["zzTPL_labels__"] = "x"
}

// snippets replace a placeholder key line `<indent>zzTPL_<name>__: x` (zz: sorted last in its map); each line is indented
// like the placeholder.
var snippets = map[string]string{
	"keep": `{{- if .Values.crds.keep }}
helm.sh/resource-policy: keep
{{- end }}`,
	"labels": `{{- include "contactsync.labels" $ | nindent INDENT }}`,
	"pullPolicy": `{{- with .Values.image.pullPolicy }}
imagePullPolicy: {{ . }}
{{- end }}`,
	"resources": `resources:
  {{- toYaml .Values.resources | nindent INDENT2 }}`,
	"args": `args:
{{- include "contactsync.args" . | nindent INDENT }}`,
	"podScheduling": `{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent INDENT2 }}
{{- end }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent INDENT2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent INDENT2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent INDENT2 }}
{{- end }}`,
}

// values replace a placeholder scalar __VAL_<name>__.
var values = map[string]string{
	"replicas":       `{{ .Values.replicaCount }}`,
	"image":          `{{ include "contactsync.image" . | quote }}`,
	"goMemLimit":     `{{ .Values.goMemLimit | quote }}`,
	"rangeNamespace": `{{ . | quote }}`,
}

var (
	snippetLine = regexp.MustCompile(`(?m)^( *)(- )?zzTPL_([a-zA-Z]+)__: x$`)
	valueRef    = regexp.MustCompile(`__VAL_([a-zA-Z]+)__`)
)

func render(objs []object, begin, end string) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("# Generated by `make helm-chart` (hack/chartgen) from kustomize output. DO NOT EDIT.\n")
	if begin != "" {
		b.WriteString(begin + "\n")
	}
	for _, o := range objs {
		raw, err := sigsyaml.Marshal(o)
		if err != nil {
			return nil, err
		}
		// Braces of the objects themselves (Prometheus alert templates, Grafana legends) are
		// printed literally by Helm; the placeholders below then add the chart's templates.
		s := strings.NewReplacer("{{", `{{"{{"}}`, "}}", `{{"}}"}}`).Replace(string(raw))
		s = strings.ReplaceAll(s, InstallNamespace, "{{ $.Release.Namespace }}")
		var failed error
		s = snippetLine.ReplaceAllStringFunc(s, func(line string) string {
			m := snippetLine.FindStringSubmatch(line)
			ind, name := m[1], m[3]
			if m[2] != "" {
				failed = fmt.Errorf("placeholder %s in a list item", name)
			}
			snip, ok := snippets[name]
			if key, isLabels := strings.CutPrefix(name, "labelsOf"); isLabels {
				snip, ok = "{{- with .Values."+key+".labels }}\n{{- toYaml . | nindent INDENT }}\n{{- end }}", true
			}
			if !ok {
				failed = fmt.Errorf("no snippet %s", name)
			}
			snip = strings.ReplaceAll(snip, "INDENT2", fmt.Sprint(len(ind)+2))
			snip = strings.ReplaceAll(snip, "INDENT", fmt.Sprint(len(ind)))
			lines := strings.Split(snip, "\n")
			for i := range lines {
				lines[i] = ind + lines[i]
			}
			return strings.Join(lines, "\n")
		})
		s = valueRef.ReplaceAllStringFunc(s, func(v string) string {
			name := valueRef.FindStringSubmatch(v)[1]
			t, ok := values[name]
			if !ok {
				failed = fmt.Errorf("no value %s", name)
			}
			return t
		})
		if failed != nil {
			return nil, failed
		}
		b.WriteString("---\n")
		b.WriteString(s)
	}
	if end != "" {
		b.WriteString(end + "\n")
	}
	return b.Bytes(), nil
}

func parse(raw []byte) ([]object, error) {
	var out []object
	r := yaml.NewYAMLReader(bufioReader(raw))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		var o object
		if err := sigsyaml.Unmarshal(doc, &o); err != nil {
			return nil, err
		}
		out = append(out, o)
	}
}

// Write replaces dir with files.
func Write(dir string, files map[string][]byte) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(full, files[p], 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Diff names the files of dir that differ from files (missing, extra or changed).
func Diff(dir string, files map[string][]byte) ([]string, error) {
	var diff []string
	seen := map[string]bool{}
	err := filepath.WalkDir(dir, func(path string, e os.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		rel = filepath.ToSlash(rel)
		seen[rel] = true
		got, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if want, ok := files[rel]; !ok {
			diff = append(diff, rel+" (not generated)")
		} else if !bytes.Equal(got, want) {
			diff = append(diff, rel)
		}
		return nil
	})
	for p := range files {
		if !seen[p] {
			diff = append(diff, p+" (missing)")
		}
	}
	slices.Sort(diff)
	return diff, err
}

func kebab(s string) string {
	var b strings.Builder
	for i, r := range s {
		if r >= 'A' && r <= 'Z' {
			if i > 0 {
				b.WriteByte('-')
			}
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

func comment(s string) string {
	var lines []string
	line := "#"
	for _, w := range strings.Fields(s) {
		if len(line)+1+len(w) > 96 {
			lines = append(lines, line)
			line = "#"
		}
		line += " " + w
	}
	return strings.Join(append(lines, line), "\n")
}

func indent(s, by string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i := range lines {
		lines[i] = by + lines[i]
	}
	return strings.Join(lines, "\n")
}
