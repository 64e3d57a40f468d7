package inventory

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strings"
)

var (
	// iniSection matches "[name]", "[name:vars]", "[name:children]", with an
	// optional trailing comment (as Ansible's INI plugin does).
	iniSection = regexp.MustCompile(`^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:[#;].*)?$`)
	// iniGroupName matches a line of a [name:children] section.
	iniGroupName = regexp.MustCompile(`^([^:\]\s]+)\s*(?:[#;].*)?$`)
)

// INI section kinds.
const (
	iniHosts    = ""
	iniVars     = "vars"
	iniChildren = "children"
)

// parseINI reads an Ansible INI inventory:
//
//	ungrouped-host ansible_host=10.0.0.9
//	[masters]
//	ncn-m00[1:3] ansible_user=root
//	ncn-m004:2222
//	[masters:vars]
//	role=master
//	[k8s:children]
//	masters
//
// Lines starting with # or ; are comments. As in Ansible, host lines are
// split like a POSIX shell (quotes, backslashes, # comments); [group:vars]
// values are taken whole, with one level of quotes removed.
func parseINI(b *builder, data []byte) error {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // UTF-8 byte order mark
	var (
		group  *groupDef // nil before the first section: hosts in no group
		kind   = iniHosts
		listed = map[string]int{} // hosts listed in the current section
	)
	for i, raw := range strings.Split(string(data), "\n") {
		line, lineNo := strings.TrimSpace(raw), i+1
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		var err error
		switch {
		case line[0] == '[':
			group, kind, err = iniHeader(b, line, lineNo)
			clear(listed)
		case kind == iniHosts:
			err = iniHostLine(b, group, line, lineNo, listed)
		case kind == iniVars:
			err = iniVarLine(b, group, line, lineNo)
		case kind == iniChildren:
			m := iniGroupName.FindStringSubmatch(line)
			if m == nil {
				return b.errf(lineNo, ErrSyntax, "[%s:children]: expected a group name, found %q", group.name, line)
			}
			ref := fmt.Sprintf("[%s:children] lists undefined group %q", group.name, m[1])
			err = b.addChild(group, m[1], lineNo, ref)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// iniHeader reads a section header and returns the group and section kind.
func iniHeader(b *builder, line string, lineNo int) (*groupDef, string, error) {
	m := iniSection.FindStringSubmatch(line)
	if m == nil {
		return nil, "", b.errf(lineNo, ErrSyntax,
			"invalid section header %q: want [group], [group:vars] or [group:children], without spaces", line)
	}
	name, kind := m[1], m[2]
	var (
		g   *groupDef
		err error
	)
	switch kind {
	case iniHosts, iniChildren:
		g, err = b.declare(name, lineNo)
	case iniVars:
		g, err = b.group(name, lineNo, fmt.Sprintf("[%s:vars] is for group %q, which is never defined", name, name))
	default:
		return nil, "", b.errf(lineNo, ErrSyntax, "invalid section header %q: unknown section type %q (want vars or children)", line, kind)
	}
	return g, kind, err
}

// iniHostLine reads "host-pattern key=value ..." into group (nil: no group).
func iniHostLine(b *builder, group *groupDef, line string, lineNo int, listed map[string]int) error {
	where := "the hosts before any section"
	if group != nil {
		where = "[" + group.name + "]"
	}
	tokens, err := shellSplit(line)
	if err != nil {
		return b.errf(lineNo, ErrSyntax, "%s: %v in %q", where, err, line)
	}
	if len(tokens) == 0 { // only a comment after all
		return nil
	}
	names, port, err := expandHostPattern(tokens[0])
	if err != nil {
		return b.errf(lineNo, ErrBadName, "%s: invalid host entry %q: %v", where, tokens[0], err)
	}
	vars := make([][2]string, 0, len(tokens)-1)
	for _, t := range tokens[1:] {
		k, v, ok := strings.Cut(t, "=")
		if !ok || k == "" {
			return b.errf(lineNo, ErrSyntax, "%s: expected key=value after the host name, found %q", where, t)
		}
		vars = append(vars, [2]string{k, iniValue(v)})
	}
	if err := b.spend(lineNo, len(names)*len(vars)); err != nil {
		return err
	}
	for _, name := range names {
		if first, dup := listed[name]; dup {
			return b.errf(lineNo, ErrDuplicateHost, "host %s is listed twice in %s (first at line %d)", name, where, first)
		}
		listed[name] = lineNo
		h, err := b.host(name, lineNo)
		if err != nil {
			return err
		}
		if group != nil {
			b.addMember(group, h)
		}
		if port != "" {
			b.setVar(h.vars, "ansible_port", val{s: port, line: lineNo})
		}
		for _, kv := range vars {
			b.setVar(h.vars, kv[0], val{s: kv[1], line: lineNo})
		}
	}
	return nil
}

// iniVarLine reads "key=value" in a [group:vars] section.
func iniVarLine(b *builder, group *groupDef, line string, lineNo int) error {
	k, v, ok := strings.Cut(line, "=")
	k = strings.TrimSpace(k)
	if !ok || k == "" || strings.ContainsFunc(k, isSpaceOrControl) {
		return b.errf(lineNo, ErrSyntax, "[%s:vars]: expected key=value, found %q", group.name, line)
	}
	return b.setGroupVar(group, k, val{s: iniValue(strings.TrimSpace(v)), line: lineNo})
}

// iniValue removes one level of matching single or double quotes, with
// Python-style backslash escapes inside, as Ansible's literal_eval of a
// quoted string would. Other values are returned as they are.
func iniValue(v string) string {
	if len(v) < 2 || (v[0] != '"' && v[0] != '\'') || v[len(v)-1] != v[0] {
		return v
	}
	inner := v[1 : len(v)-1]
	if !strings.Contains(inner, `\`) {
		return inner
	}
	var sb strings.Builder
	for i := 0; i < len(inner); i++ {
		c := inner[i]
		if c != '\\' || i+1 == len(inner) {
			sb.WriteByte(c)
			continue
		}
		i++
		switch e := inner[i]; e {
		case 'n':
			sb.WriteByte('\n')
		case 't':
			sb.WriteByte('\t')
		case 'r':
			sb.WriteByte('\r')
		case '\\', '\'', '"':
			sb.WriteByte(e)
		default: // unknown escapes keep their backslash, as in Python
			sb.WriteByte('\\')
			sb.WriteByte(e)
		}
	}
	return sb.String()
}

// shellSplit splits a line into words like Python's shlex.split(line,
// comments=True), which Ansible uses for INI host lines: whitespace separates
// words, single quotes are literal, double quotes allow \" and \\, a
// backslash outside quotes escapes the next character, and an unquoted #
// starts a comment.
func shellSplit(s string) ([]string, error) {
	var (
		words  []string
		word   strings.Builder
		inWord bool
	)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case ' ', '\t', '\r', '\n', '#':
			if inWord {
				words = append(words, word.String())
				word.Reset()
				inWord = false
			}
			if c == '#' {
				return words, nil
			}
		case '\\':
			if i+1 == len(s) {
				return nil, errors.New("backslash at end of line")
			}
			i++
			word.WriteByte(s[i])
			inWord = true
		case '\'':
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				return nil, errors.New("unclosed single quote")
			}
			word.WriteString(s[i+1 : i+1+end])
			i += end + 1
			inWord = true
		case '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\') {
					i++
				}
				word.WriteByte(s[i])
			}
			if i == len(s) {
				return nil, errors.New("unclosed double quote")
			}
			inWord = true
		default:
			word.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, word.String())
	}
	return words, nil
}
