package inventory

import (
	"bufio"
	"bytes"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Top-level keys of the native format.
var nativeTopKeys = []string{"vars", "defaults", "hosts", "groups"}

// Keys of a group in an Ansible YAML inventory.
var ansibleGroupKeys = []string{"hosts", "vars", "children"}

var (
	// yamlKeyLine is a line that starts a YAML mapping: "key:" or "key: value".
	yamlKeyLine = regexp.MustCompile(`^(---|- |[^\s\[#;=][^=]*:(\s|$))`)
	// iniSectionLine is an INI section header, possibly followed by a comment.
	iniSectionLine = regexp.MustCompile(`^\[[^\]\s]+\]\s*([#;].*)?$`)
)

// detect decides the format of data. For YAML formats it also returns the
// decoded document.
func detect(src source, data []byte) (string, *yamlDoc, error) {
	switch strings.ToLower(filepath.Ext(src.file)) {
	case ".ini", ".cfg", ".conf":
		return FormatAnsibleINI, nil, nil
	case ".yaml", ".yml", ".json":
		doc, err := parseYAML(src, data)
		if err != nil {
			return "", nil, err
		}
		if doc.root == nil {
			return "", nil, src.errf(1, ErrNoHosts, "empty inventory: no hosts defined")
		}
		format, err := classifyYAML(doc)
		return format, doc, err
	}

	// No telling extension: look at the content.
	doc, yerr := parseYAML(src, data)
	switch {
	case yerr == nil && doc.root != nil && deref(doc.root).Kind == yaml.MappingNode:
		format, err := classifyYAML(doc)
		return format, doc, err
	case yerr != nil && firstLineLooksYAML(data):
		return "", nil, yerr // clearly meant as YAML: report the YAML problem
	}
	// Not a YAML mapping (a bare word list parses as a YAML string): INI.
	return FormatAnsibleINI, nil, nil
}

// firstLineLooksYAML reports whether the first significant line reads like
// YAML ("key:", "---", "- item") rather than INI ("[group]", "host k=v").
func firstLineLooksYAML(data []byte) bool {
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, len(data)+1)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		return !iniSectionLine.MatchString(line) && yamlKeyLine.MatchString(line)
	}
	return false
}

// classifyYAML tells native from Ansible YAML by the top-level keys.
func classifyYAML(doc *yamlDoc) (string, error) {
	root := deref(doc.root)
	if root.Kind != yaml.MappingNode {
		return "", doc.errf(root.Line, ErrSyntax, "top level must be a mapping, found %s", kindName(root))
	}
	var keys, native []string
	groupLike := false
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := deref(root.Content[i]), deref(root.Content[i+1])
		keys = append(keys, k.Value)
		if slices.Contains(nativeTopKeys, k.Value) {
			native = append(native, k.Value)
		}
		if v != nil && v.Kind == yaml.MappingNode {
			for j := 0; j < len(v.Content); j += 2 {
				if slices.Contains(ansibleGroupKeys, deref(v.Content[j]).Value) {
					groupLike = true
				}
			}
		}
	}
	switch {
	case slices.Contains(keys, groupAll) && len(native) > 0:
		return "", doc.errf(root.Line, ErrUnknownFormat,
			"cannot tell the inventory format: top-level %q is Ansible YAML but %s belong to the native format",
			groupAll, quoteList(native, "and"))
	case slices.Contains(keys, groupAll):
		return FormatAnsibleYAML, nil
	case len(native) > 0:
		return FormatNative, nil
	case groupLike:
		return FormatAnsibleYAML, nil
	}
	return "", doc.errf(root.Line, ErrUnknownFormat,
		"cannot tell the inventory format: top-level keys %s are neither native (%s) nor Ansible YAML (%q, or groups with %s)",
		quoteList(keys, "and"), quoteList(nativeTopKeys, "or"), groupAll, quoteList(ansibleGroupKeys, "or"))
}
