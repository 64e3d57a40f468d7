package inventory

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// subscriptRE matches a pattern ending in a subscript: "masters[0]",
// "masters[-1]", "masters[0:1]", "masters[1:]".
var subscriptRE = regexp.MustCompile(`^(.+)\[(?:(-?[0-9]+)|([0-9]+):([0-9]*))\]$`)

// maxPatternExpansion bounds the names a range in a pattern expands to.
const maxPatternExpansion = 10000

// Select returns the hosts matched by an Ansible host pattern, in inventory
// order and without duplicates. The pattern is a list of terms separated by
// "," (or ":" when there is no comma). A term is one of:
//
//	all, *                 every host
//	masters                a group, or a host
//	ncn-m00*, ncn-?00[12]  a glob (fnmatch) over group and host names
//	~ncn-(m|w)00[12]       a regular expression (RE2) over group and host
//	                       names, anchored at the start as in Ansible
//	ncn-m00[1:2]           a host range, as in inventory files
//	masters[0], masters[-1], masters[0:1], masters[1:]
//	                       a subscript (inclusive) of the hosts matched, in
//	                       inventory order
//
// X[a:b] is a subscript when X matches hosts, and a host range otherwise.
// A term prefixed with "&" intersects, with "!" excludes; as in Ansible, the
// plain terms are united first, then intersected, then excluded, and a
// pattern of only "&" and "!" terms starts from all hosts.
//
// A term that names nothing in the inventory, and a pattern that selects no
// host, give ErrNoMatch; a malformed pattern gives ErrBadPattern.
func (inv *Inventory) Select(pattern string) ([]*Host, error) {
	terms, err := splitPattern(pattern)
	if err != nil {
		return nil, err
	}
	m := newMatcher(inv)

	var unions, inters, excludes []string
	for _, t := range terms {
		switch t[0] {
		case '&':
			inters = append(inters, t)
		case '!':
			excludes = append(excludes, t)
		default:
			unions = append(unions, t)
		}
	}

	selected := make([]bool, len(inv.Hosts))
	if len(unions) == 0 {
		for i := range selected {
			selected[i] = true
		}
	}
	for _, phase := range [][]string{unions, inters, excludes} {
		for _, t := range phase {
			expr := t
			if t[0] == '&' || t[0] == '!' {
				expr = t[1:]
			}
			if expr == "" || expr[0] == '&' || expr[0] == '!' {
				return nil, fmt.Errorf("%w %q: %q must be followed by a group or host", ErrBadPattern, pattern, t[:1])
			}
			hits, found, err := m.term(expr)
			if err != nil {
				return nil, fmt.Errorf("%w %q: %v", ErrBadPattern, pattern, err)
			}
			if !found {
				return nil, fmt.Errorf("%w %q in %s: %q matches no group or host name%s",
					ErrNoMatch, pattern, inv.Path, expr, suggest(expr, m.names()))
			}
			switch t[0] {
			case '&':
				for i := range selected {
					selected[i] = selected[i] && hits[i]
				}
			case '!':
				for i := range selected {
					selected[i] = selected[i] && !hits[i]
				}
			default:
				for i := range selected {
					selected[i] = selected[i] || hits[i]
				}
			}
		}
	}

	var out []*Host
	for i, ok := range selected {
		if ok {
			out = append(out, inv.Hosts[i])
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w %q in %s", ErrNoMatch, pattern, inv.Path)
	}
	return out, nil
}

// splitPattern splits a pattern into terms, as Ansible does: on commas if
// there are any; otherwise on colons outside brackets, unless the whole
// pattern is an IPv6 address.
func splitPattern(pattern string) ([]string, error) {
	bad := func(why string) error { return fmt.Errorf("%w %q: %s", ErrBadPattern, pattern, why) }
	var parts []string
	switch {
	case strings.Contains(pattern, ","):
		parts = strings.Split(pattern, ",")
	case isIPv6(strings.TrimSpace(pattern)):
		parts = []string{pattern}
	default:
		depth, start := 0, 0
		for i := 0; i < len(pattern); i++ {
			switch pattern[i] {
			case '[':
				depth++
			case ']':
				depth--
			case ':':
				if depth <= 0 {
					parts = append(parts, pattern[start:i])
					start = i + 1
				}
			}
		}
		parts = append(parts, pattern[start:])
	}
	var terms []string
	for _, p := range parts {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if strings.ContainsFunc(p, isSpaceOrControl) {
			return nil, bad(fmt.Sprintf("term %q contains spaces; separate terms with , or :", p))
		}
		terms = append(terms, p)
	}
	if len(terms) == 0 {
		return nil, bad("empty pattern")
	}
	return terms, nil
}

// matcher evaluates pattern terms against one inventory.
type matcher struct {
	inv    *Inventory
	index  map[string]int // host name -> position in inv.Hosts
	groups []string       // group names, sorted
}

func newMatcher(inv *Inventory) *matcher {
	m := &matcher{inv: inv, index: make(map[string]int, len(inv.Hosts))}
	for i, h := range inv.Hosts {
		m.index[h.Name] = i
	}
	for g := range inv.Groups {
		m.groups = append(m.groups, g)
	}
	slices.Sort(m.groups)
	return m
}

// names returns every group and host name, for suggestions.
func (m *matcher) names() []string {
	names := slices.Clone(m.groups)
	for _, h := range m.inv.Hosts {
		names = append(names, h.Name)
	}
	return names
}

// term evaluates one term without its & or ! prefix. It returns the hosts
// matched (indexed like inv.Hosts) and whether the term names anything in the
// inventory; an existing but empty group is found but matches no host.
func (m *matcher) term(expr string) (hits []bool, found bool, err error) {
	if expr[0] != '~' {
		if sm := subscriptRE.FindStringSubmatch(expr); sm != nil {
			hits, found, err := m.plain(sm[1])
			if err == nil && found {
				return subscript(hits, sm[2], sm[3], sm[4]), true, nil
			}
			// Not a subscript of something known: read the brackets as a
			// host range (ncn-m00[1:2]) or a glob class.
		}
	}
	return m.plain(expr)
}

// plain evaluates a term without subscript.
func (m *matcher) plain(expr string) (hits []bool, found bool, err error) {
	hits = make([]bool, len(m.inv.Hosts))
	switch {
	case expr == "all" || expr == "*":
		for i := range hits {
			hits[i] = true
		}
		return hits, true, nil
	case expr[0] == '~':
		re, err := regexp.Compile(expr[1:])
		if err != nil {
			return nil, false, fmt.Errorf("invalid regular expression %q: %v", expr[1:], err)
		}
		re = regexp.MustCompile("^(?:" + re.String() + ")") // anchored at the start, like Python's re.match
		return hits, m.matchNames(re.MatchString, hits), nil
	}
	if m.exact(expr, hits) {
		return hits, true, nil
	}
	if strings.Contains(expr, "[") {
		names, err := expandRanges(expr, true, maxPatternExpansion)
		if err != nil {
			return nil, false, fmt.Errorf("invalid range in %q: %v", expr, err)
		}
		if len(names) > 1 || names[0] != expr { // it had ranges
			for _, name := range names {
				sub, ok, err := m.plain(name)
				if err != nil {
					return nil, false, err
				}
				found = found || ok
				for i := range hits {
					hits[i] = hits[i] || sub[i]
				}
			}
			return hits, found, nil
		}
	}
	if strings.ContainsAny(expr, "*?[") {
		re, err := globRegexp(expr)
		if err != nil {
			return nil, false, err
		}
		return hits, m.matchNames(re.MatchString, hits), nil
	}
	return hits, false, nil
}

// exact marks the host or the group's hosts called name.
func (m *matcher) exact(name string, hits []bool) bool {
	if i, ok := m.index[name]; ok {
		hits[i] = true
		return true
	}
	members, ok := m.inv.Groups[name]
	if !ok {
		return false
	}
	for _, h := range members {
		if i, ok := m.index[h]; ok {
			hits[i] = true
		}
	}
	return true
}

// matchNames marks the hosts of every group, and every host, whose name
// satisfies match. It reports whether any name matched.
func (m *matcher) matchNames(match func(string) bool, hits []bool) bool {
	found := false
	for _, g := range m.groups {
		if match(g) {
			found = m.exact(g, hits) || found
		}
	}
	for i, h := range m.inv.Hosts {
		if match(h.Name) {
			hits[i], found = true, true
		}
	}
	return found
}

// subscript keeps the hits selected by an index ("0", "-1") or an inclusive
// range ("0", "1", or "1", "" for "to the end"), counted over the hits in
// inventory order. Out-of-range subscripts select nothing.
func subscript(hits []bool, index, from, to string) []bool {
	var pos []int
	for i, ok := range hits {
		if ok {
			pos = append(pos, i)
		}
	}
	n := len(pos)
	var lo, hi int
	if index != "" {
		i, err := strconv.Atoi(index)
		if err != nil { // too large for an int: out of range
			i = n
		}
		if i < 0 {
			i += n
		}
		lo, hi = i, i
	} else {
		var err error
		if lo, err = strconv.Atoi(from); err != nil {
			lo = n
		}
		hi = n - 1
		if t, err := strconv.Atoi(to); err == nil && t < hi {
			hi = t
		}
	}
	out := make([]bool, len(hits))
	for k := max(lo, 0); k <= hi && k < n; k++ {
		out[pos[k]] = true
	}
	return out
}

// globRegexp translates a shell glob (Python fnmatch syntax: *, ?, [seq],
// [!seq]) to an anchored regular expression.
func globRegexp(glob string) (*regexp.Regexp, error) {
	var sb strings.Builder
	sb.WriteString(`^(?s:`)
	for i := 0; i < len(glob); i++ {
		switch c := glob[i]; c {
		case '*':
			sb.WriteString(`.*`)
		case '?':
			sb.WriteString(`.`)
		case '[':
			j := i + 1
			if j < len(glob) && glob[j] == '!' {
				j++
			}
			if j < len(glob) && glob[j] == ']' {
				j++
			}
			for j < len(glob) && glob[j] != ']' {
				j++
			}
			if j >= len(glob) {
				sb.WriteString(`\[`) // no closing bracket: a literal [
				continue
			}
			class := strings.ReplaceAll(glob[i+1:j], `\`, `\\`)
			if strings.HasPrefix(class, "!") {
				class = "^" + class[1:]
			} else if strings.HasPrefix(class, "^") {
				class = `\` + class
			}
			sb.WriteString("[" + class + "]")
			i = j
		default:
			sb.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	sb.WriteString(`)$`)
	re, err := regexp.Compile(sb.String())
	if err != nil {
		return nil, fmt.Errorf("invalid glob %q: %v", glob, err)
	}
	return re, nil
}
