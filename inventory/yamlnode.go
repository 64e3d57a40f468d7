package inventory

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"

	yamlv2 "go.yaml.in/yaml/v2"
	"go.yaml.in/yaml/v3"
)

// Limits that keep hostile or broken YAML (alias bombs, self-referencing
// anchors) from exhausting memory or stack.
const (
	maxYAMLNodes = 1 << 20 // node visits, counting alias expansion
	maxYAMLDepth = 100     // nesting of groups and of variable values
)

// yamlDoc is a decoded YAML document and the bookkeeping to walk it safely.
type yamlDoc struct {
	source
	root   *yaml.Node // the top-level node; nil for an empty document
	budget int        // node visits left
}

// pair is one key/value entry of a YAML mapping.
type pair struct {
	key        string
	knode, val *yaml.Node
}

// yamlErrLine matches the location yaml.v3 puts in its messages.
var yamlErrLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// parseYAML decodes a single YAML document. An empty document gives a
// yamlDoc whose root is nil.
func parseYAML(src source, data []byte) (doc *yamlDoc, err error) {
	defer func() {
		// yaml.v3 panics on a few malformed inputs; report them as syntax errors.
		if r := recover(); r != nil {
			doc, err = nil, src.errf(1, ErrSyntax, "malformed YAML (%q)", fmt.Sprint(r))
		}
	}()
	doc = &yamlDoc{source: src, budget: maxYAMLNodes}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var n yaml.Node
	if err := dec.Decode(&n); err != nil {
		if errors.Is(err, io.EOF) {
			return doc, nil
		}
		return nil, yamlError(src, data, err)
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		line := extra.Line
		if len(extra.Content) > 0 {
			line = extra.Content[0].Line
		}
		return nil, src.errf(line, ErrSyntax, "more than one YAML document; an inventory is a single document")
	case !errors.Is(err, io.EOF):
		return nil, yamlError(src, data, err)
	}
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		doc.root = n.Content[0]
	}
	return doc, nil
}

// yamlParserProblems are the yaml.v3 parser (as opposed to scanner) errors.
// For them yaml.v3 reports the 0-based line of the enclosing construct (the
// mapping that is badly indented), not of the problem itself.
var yamlParserProblems = map[string]bool{
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"did not find expected '-' indicator":    true,
	"did not find expected <document start>": true,
	"did not find expected <stream-start>":   true,
	"did not find expected key":              true,
	"did not find expected node content":     true,
	"found duplicate %TAG directive":         true,
	"found duplicate %YAML directive":        true,
	"found incompatible YAML document":       true,
	"found undefined tag handle":             true,
}

// yamlError turns a yaml.v3 error about data into a located *Error.
func yamlError(src source, data []byte, err error) error {
	msg, line := err.Error(), 1
	if m := yamlErrLine.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
		if yamlParserProblems[msg] {
			line = parserProblemLine(data, line+1)
		}
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
	}
	e := src.errf(line, ErrSyntax, "invalid YAML: %s", msg).(*Error)
	e.Err = err
	return e
}

// parserProblemLine returns the line of a YAML parser error as yaml.v2
// reports it: v2 shares v3's parser but names the line of the offending
// token (0-based), which is where an admin has to look. It returns fallback
// when v2 does not see the same kind of error.
func parserProblemLine(data []byte, fallback int) (line int) {
	defer func() {
		if recover() != nil {
			line = fallback
		}
	}()
	var discard yamlv2.MapSlice
	err := yamlv2.Unmarshal(data, &discard)
	if err == nil {
		return fallback
	}
	m := yamlErrLine.FindStringSubmatch(err.Error())
	if m == nil || !yamlParserProblems[m[2]] {
		return fallback
	}
	n, _ := strconv.Atoi(m[1])
	return n + 1
}

// spend counts one node visit against the budget.
func (d *yamlDoc) spend(n *yaml.Node) error {
	d.budget--
	if d.budget < 0 {
		return d.errf(n.Line, ErrSyntax, "inventory too large or too deeply aliased (more than %d YAML nodes)", maxYAMLNodes)
	}
	return nil
}

// deref follows an alias to the node it names.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < maxYAMLDepth; i++ {
		n = n.Alias
	}
	return n
}

// isNull reports whether n is absent or a YAML null (`key:`, `~`, `null`).
func isNull(n *yaml.Node) bool {
	n = deref(n)
	return n == nil || n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

// kindName describes a node's shape for error messages.
func kindName(n *yaml.Node) string {
	n = deref(n)
	switch {
	case n == nil || isNull(n):
		return "nothing"
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case n.Kind == yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	}
	return "an unexpected YAML node"
}

// mapping returns the entries of a mapping node in document order, with YAML
// merge keys (<<) applied: merged entries come first and explicit entries
// override them. A null node is an empty mapping. what names the mapping in
// messages (for example "group masters"). A key given twice is an error of
// kind dupKind, described as "duplicate <noun>".
func (d *yamlDoc) mapping(n *yaml.Node, what string, dupKind error, noun string) ([]pair, error) {
	return d.mappingDepth(n, what, dupKind, noun, 0)
}

func (d *yamlDoc) mappingDepth(n *yaml.Node, what string, dupKind error, noun string, depth int) ([]pair, error) {
	n = deref(n)
	if isNull(n) {
		return nil, nil
	}
	if n.Kind != yaml.MappingNode {
		return nil, d.errf(n.Line, ErrSyntax, "%s must be a mapping, found %s", what, kindName(n))
	}
	if depth > maxYAMLDepth {
		return nil, d.errf(n.Line, ErrSyntax, "%s: merge keys nested too deeply", what)
	}
	var merged, explicit []pair
	seen := map[string]int{} // explicit key -> line
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if err := d.spend(k); err != nil {
			return nil, err
		}
		if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			ps, err := d.mergeSources(v, what, dupKind, noun, depth)
			if err != nil {
				return nil, err
			}
			merged = append(merged, ps...)
			continue
		}
		key, err := d.key(k, what)
		if err != nil {
			return nil, err
		}
		if first, dup := seen[key]; dup {
			return nil, d.errf(k.Line, dupKind, "duplicate %s %q in %s (first at line %d)", noun, key, what, first)
		}
		seen[key] = k.Line
		explicit = append(explicit, pair{key: key, knode: k, val: v})
	}
	if len(merged) == 0 {
		return explicit, nil
	}
	// Merged keys keep their first position; explicit entries override them.
	out := make([]pair, 0, len(merged)+len(explicit))
	pos := map[string]int{}
	for _, p := range append(merged, explicit...) {
		if i, ok := pos[p.key]; ok {
			if _, isExplicit := seen[p.key]; isExplicit {
				out[i] = p
			}
			continue
		}
		pos[p.key] = len(out)
		out = append(out, p)
	}
	return out, nil
}

// mergeSources returns the entries of the value of a merge key: a mapping or
// a list of mappings (earlier ones win).
func (d *yamlDoc) mergeSources(v *yaml.Node, what string, dupKind error, noun string, depth int) ([]pair, error) {
	v = deref(v)
	if v != nil && v.Kind == yaml.SequenceNode {
		var out []pair
		for _, item := range v.Content {
			ps, err := d.mappingDepth(item, what, dupKind, noun, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, ps...)
		}
		return out, nil
	}
	return d.mappingDepth(v, what, dupKind, noun, depth+1)
}

// key returns the text of a mapping key, which must be a non-empty scalar.
func (d *yamlDoc) key(k *yaml.Node, what string) (string, error) {
	k = deref(k)
	if k.Kind != yaml.ScalarNode || k.Tag == "!!null" || k.Value == "" {
		return "", d.errf(k.Line, ErrSyntax, "%s: keys must be non-empty strings, found %s", what, kindName(k))
	}
	return k.Value, nil
}

// list returns the scalar items of a sequence node (null is an empty list).
func (d *yamlDoc) list(n *yaml.Node, what string) ([]*yaml.Node, error) {
	n = deref(n)
	if isNull(n) {
		return nil, nil
	}
	if n.Kind != yaml.SequenceNode {
		return nil, d.errf(n.Line, ErrSyntax, "%s must be a list, found %s", what, kindName(n))
	}
	items := make([]*yaml.Node, 0, len(n.Content))
	for _, item := range n.Content {
		if err := d.spend(item); err != nil {
			return nil, err
		}
		item = deref(item)
		if item.Kind != yaml.ScalarNode || isNull(item) || item.Value == "" {
			return nil, d.errf(item.Line, ErrSyntax, "%s: items must be non-empty strings, found %s", what, kindName(item))
		}
		items = append(items, item)
	}
	return items, nil
}

// scalar returns the text of a non-empty scalar node, for connection fields.
func (d *yamlDoc) scalar(n *yaml.Node, what string) (val, error) {
	n = deref(n)
	if n.Kind != yaml.ScalarNode || isNull(n) || n.Value == "" {
		return val{}, d.errf(n.Line, ErrBadValue, "%s must be a non-empty string, found %s", what, kindName(n))
	}
	return val{s: n.Value, line: n.Line}, nil
}

// vars reads a mapping of variables and calls set for each, in order.
func (d *yamlDoc) vars(n *yaml.Node, what string, set func(key string, v val) error) error {
	pairs, err := d.mapping(n, what, ErrSyntax, "variable")
	if err != nil {
		return err
	}
	for _, p := range pairs {
		s, err := d.value(p.val, 0)
		if err != nil {
			return err
		}
		if err := set(p.key, val{s: s, line: p.knode.Line}); err != nil {
			return err
		}
	}
	return nil
}

// value flattens a variable value to a string: a scalar's text as written
// (null is ""), or compact JSON for lists and mappings.
func (d *yamlDoc) value(n *yaml.Node, depth int) (string, error) {
	n = deref(n)
	if n.Kind == yaml.ScalarNode {
		if n.Tag == "!!null" {
			return "", nil
		}
		return n.Value, nil
	}
	v, err := d.toAny(n, depth)
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", d.errf(n.Line, ErrBadValue, "cannot represent value: %v", err)
	}
	return strings.TrimSuffix(buf.String(), "\n"), nil
}

// toAny converts a node to plain Go values for JSON encoding.
func (d *yamlDoc) toAny(n *yaml.Node, depth int) (any, error) {
	n = deref(n)
	if n == nil {
		return nil, nil
	}
	if err := d.spend(n); err != nil {
		return nil, err
	}
	if depth > maxYAMLDepth {
		return nil, d.errf(n.Line, ErrSyntax, "value nested too deeply (or anchored inside itself)")
	}
	switch n.Kind {
	case yaml.MappingNode:
		pairs, err := d.mappingDepth(n, "value", ErrSyntax, "key", depth)
		if err != nil {
			return nil, err
		}
		m := make(map[string]any, len(pairs))
		for _, p := range pairs {
			if m[p.key], err = d.toAny(p.val, depth+1); err != nil {
				return nil, err
			}
		}
		return m, nil
	case yaml.SequenceNode:
		s := make([]any, 0, len(n.Content))
		for _, item := range n.Content {
			v, err := d.toAny(item, depth+1)
			if err != nil {
				return nil, err
			}
			s = append(s, v)
		}
		return s, nil
	case yaml.ScalarNode:
		return scalarAny(n), nil
	}
	return nil, d.errf(n.Line, ErrSyntax, "unexpected YAML node")
}

// scalarAny types a scalar by its resolved tag, falling back to its text.
func scalarAny(n *yaml.Node) any {
	switch n.Tag {
	case "!!null":
		return nil
	case "!!bool":
		if b, err := strconv.ParseBool(strings.ToLower(n.Value)); err == nil {
			return b
		}
	case "!!int":
		if i, err := strconv.ParseInt(n.Value, 0, 64); err == nil {
			return i
		}
	case "!!float":
		if f, err := strconv.ParseFloat(n.Value, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
			return f
		}
	}
	return n.Value
}
