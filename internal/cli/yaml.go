package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	yaml "go.yaml.in/yaml/v3"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// writeDocs writes the imported objects as multi-document YAML with their comments, or as a
// JSON v1 List.
func writeDocs(w io.Writer, format string, docs []doc) error {
	if format == "json" {
		items := make([]json.RawMessage, 0, len(docs))
		for _, d := range docs {
			b, err := cleanJSON(d.obj)
			if err != nil {
				return err
			}
			items = append(items, b)
		}
		b, err := json.MarshalIndent(map[string]any{"apiVersion": "v1", "kind": "List", "items": items}, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	for i, d := range docs {
		b, err := commentedYAML(d)
		if err != nil {
			return err
		}
		if i > 0 {
			if _, err := io.WriteString(w, "---\n"); err != nil {
				return err
			}
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return nil
}

// cleanJSON is the object as a person commits it (no status, no empty creationTimestamp), in
// its Go field order.
func cleanJSON(obj client.Object) (json.RawMessage, error) {
	root, err := orderedNode(obj)
	if err != nil {
		return nil, err
	}
	var sb strings.Builder
	if err := nodeJSON(&sb, root); err != nil {
		return nil, err
	}
	return json.RawMessage(sb.String()), nil
}

// nodeJSON writes a node that came from JSON back as JSON, keeping the order of its keys.
func nodeJSON(sb *strings.Builder, n *yaml.Node) error {
	switch n.Kind {
	case yaml.MappingNode:
		sb.WriteByte('{')
		for i := 0; i+1 < len(n.Content); i += 2 {
			if i > 0 {
				sb.WriteByte(',')
			}
			k, _ := json.Marshal(n.Content[i].Value)
			sb.Write(k)
			sb.WriteByte(':')
			if err := nodeJSON(sb, n.Content[i+1]); err != nil {
				return err
			}
		}
		sb.WriteByte('}')
	case yaml.SequenceNode:
		sb.WriteByte('[')
		for i, c := range n.Content {
			if i > 0 {
				sb.WriteByte(',')
			}
			if err := nodeJSON(sb, c); err != nil {
				return err
			}
		}
		sb.WriteByte(']')
	case yaml.ScalarNode:
		if n.Tag == "!!str" {
			v, _ := json.Marshal(n.Value)
			sb.Write(v)
		} else {
			sb.WriteString(n.Value) // numbers, booleans and null, as JSON wrote them
		}
	default:
		return fmt.Errorf("unexpected YAML node kind %d", n.Kind)
	}
	return nil
}

// orderedNode is obj as a YAML node in its Go field order, without status and the empty
// creationTimestamp, in block style.
func orderedNode(obj client.Object) (*yaml.Node, error) {
	b, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	var n yaml.Node
	if err := yaml.Unmarshal(b, &n); err != nil {
		return nil, err
	}
	root := n.Content[0]
	// apiVersion first, as kubectl and every manifest put it.
	for i := 0; i+1 < len(root.Content); i += 2 {
		if root.Content[i].Value == "apiVersion" && i > 0 {
			kv := []*yaml.Node{root.Content[i], root.Content[i+1]}
			root.Content = append(kv, append(root.Content[:i:i], root.Content[i+2:]...)...)
			break
		}
	}
	removeKey(root, "status")
	if md := lookup(root, "metadata"); md != nil {
		removeKey(md, "creationTimestamp")
	}
	plain(root)
	return root, nil
}

// commentedYAML renders one document with its head comment and line comments.
func commentedYAML(d doc) ([]byte, error) {
	root, err := orderedNode(d.obj)
	if err != nil {
		return nil, err
	}
	for path, c := range d.comments {
		if n := lookupPath(root, path); n != nil {
			n.LineComment = "# " + c
		}
	}
	var sb strings.Builder
	for _, h := range d.head {
		sb.WriteString("# " + h + "\n")
	}
	enc := yaml.NewEncoder(&sb)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return []byte(sb.String()), nil
}

// plain drops the JSON styles (flow maps, quoted strings) so the encoder writes block YAML,
// quoting only where YAML needs it.
func plain(n *yaml.Node) {
	n.Style = 0
	for _, c := range n.Content {
		plain(c)
	}
}

func lookup(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// lookupPath finds the node at a dotted path; a number indexes a sequence. For a mapping
// value that is a scalar, the comment goes on the value; for a sequence item, on the item.
func lookupPath(n *yaml.Node, path string) *yaml.Node {
	for _, p := range strings.Split(path, ".") {
		if n == nil {
			return nil
		}
		if n.Kind == yaml.SequenceNode {
			i, err := strconv.Atoi(p)
			if err != nil || i < 0 || i >= len(n.Content) {
				return nil
			}
			n = n.Content[i]
			continue
		}
		n = lookup(n, p)
	}
	if n != nil && n.Kind == yaml.MappingNode && len(n.Content) == 2 {
		// A one-key item ({name: x}): the comment reads best beside its value.
		return n.Content[1]
	}
	return n
}

func removeKey(m *yaml.Node, key string) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content = append(m.Content[:i], m.Content[i+2:]...)
			return
		}
	}
}
