package inventory

import (
	"cmp"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
)

// Size limits, far above real inventories, that keep a small file with
// large host ranges from taking unbounded time and memory.
const (
	maxHosts       = 100000   // hosts, after range expansion
	maxAssignments = 5000000  // host references and host variable assignments
	maxMembership  = 20000000 // hosts times groups
)

// Names of the implicit groups.
const (
	groupAll       = "all"
	groupUngrouped = "ungrouped" // Ansible: hosts in no group but all
	groupMasters   = "masters"   // native: defaults to every host
)

// val is a variable or connection value and the line that set it.
type val struct {
	s     string
	line  int
	alias bool // set through a legacy Ansible name such as ansible_ssh_host
}

// varMap holds variables by name.
type varMap map[string]val

// connKey indexes the connection settings of a host.
type connKey int

const (
	connAddress connKey = iota
	connUser
	connPort
	connIdentity
	numConn
)

// connNative are the native key names of the connection settings.
var connNative = [numConn]string{"address", "user", "port", "identity_file"}

// connAnsible are the Ansible variable names of the connection settings.
var connAnsible = [numConn]string{"ansible_host", "ansible_user", "ansible_port", "ansible_ssh_private_key_file"}

// ansibleAliases maps legacy or alternative Ansible variable names to the
// name used in connAnsible.
var ansibleAliases = map[string]string{
	"ansible_ssh_host":         "ansible_host",
	"ansible_ssh_user":         "ansible_user",
	"ansible_ssh_port":         "ansible_port",
	"ansible_private_key_file": "ansible_ssh_private_key_file",
}

// hostDef is a host while the inventory is being built.
type hostDef struct {
	name  string
	line  int
	index int
	vars  varMap
	conn  [numConn]*val // native format only
}

// groupDef is a group while the inventory is being built.
type groupDef struct {
	name     string
	line     int    // where declared, or first referenced
	declared bool   // false while only referenced (children, [g:vars])
	ref      string // how it was first referenced, for "unknown group" errors
	vars     varMap
	priority int // ansible_group_priority
	hosts    []*hostDef
	member   map[*hostDef]bool
	children []childRef
}

// childRef is a "children" entry naming a group.
type childRef struct {
	name string
	line int
}

// builder collects hosts, groups and variables from a parser and turns them
// into an Inventory.
type builder struct {
	source
	format   string
	hosts    []*hostDef
	hostMap  map[string]*hostDef
	groups   []*groupDef // in order of first mention
	groupMap map[string]*groupDef
	global   varMap
	defaults [numConn]*val // native format only
	work     int           // host references and assignments so far
}

func newBuilder(src source, format string) *builder {
	b := &builder{
		source:   src,
		format:   format,
		hostMap:  map[string]*hostDef{},
		groupMap: map[string]*groupDef{},
		global:   varMap{},
	}
	b.declare(groupAll, 0)
	if b.ansible() {
		b.declare(groupUngrouped, 0)
	}
	return b
}

// ansible reports whether Ansible semantics apply.
func (b *builder) ansible() bool { return b.format != FormatNative }

// spend counts n host references or host variable assignments, which host
// ranges multiply, against maxAssignments.
func (b *builder) spend(line, n int) error {
	b.work += n
	if b.work > maxAssignments {
		return b.errf(line, ErrBadValue, "inventory too large: more than %d host references and variable assignments (check host ranges)", maxAssignments)
	}
	return nil
}

// host returns the host called name, creating it (after validating the name).
func (b *builder) host(name string, line int) (*hostDef, error) {
	if err := b.spend(line, 1); err != nil {
		return nil, err
	}
	if h, ok := b.hostMap[name]; ok {
		return h, nil
	}
	if why := badHostName(name); why != "" {
		return nil, b.errf(line, ErrBadName, "invalid host name %q: %s", name, why)
	}
	if len(b.hosts) >= maxHosts {
		return nil, b.errf(line, ErrBadValue, "more than %d hosts", maxHosts)
	}
	h := &hostDef{name: name, line: line, index: len(b.hosts), vars: varMap{}}
	b.hosts = append(b.hosts, h)
	b.hostMap[name] = h
	return h, nil
}

// group returns the group called name, creating it undeclared if needed.
// ref says how it is referenced, for the error if it is never declared.
func (b *builder) group(name string, line int, ref string) (*groupDef, error) {
	if g, ok := b.groupMap[name]; ok {
		return g, nil
	}
	if why := badGroupName(name); why != "" {
		return nil, b.errf(line, ErrBadName, "invalid group name %q: %s", name, why)
	}
	g := &groupDef{name: name, line: line, ref: ref, vars: varMap{}, priority: 1, member: map[*hostDef]bool{}}
	b.groups = append(b.groups, g)
	b.groupMap[name] = g
	return g, nil
}

// declare returns the group called name, marking it as defined at line.
func (b *builder) declare(name string, line int) (*groupDef, error) {
	g, err := b.group(name, line, "")
	if err != nil {
		return nil, err
	}
	if !g.declared {
		g.declared, g.line = true, line
	}
	return g, nil
}

// addMember makes h a direct member of g (a no-op for "all").
func (b *builder) addMember(g *groupDef, h *hostDef) {
	if g.name == groupAll || g.member[h] {
		return
	}
	g.member[h] = true
	g.hosts = append(g.hosts, h)
}

// addChild records that group g has the child group name.
func (b *builder) addChild(g *groupDef, name string, line int, ref string) error {
	if _, err := b.group(name, line, ref); err != nil {
		return err
	}
	g.children = append(g.children, childRef{name: name, line: line})
	return nil
}

// setVar sets key in m. For Ansible formats, legacy names are stored under
// their current name, and lose to the current name set at the same level.
func (b *builder) setVar(m varMap, key string, v val) {
	if b.ansible() {
		if canonical, ok := ansibleAliases[key]; ok {
			if cur, set := m[canonical]; set && !cur.alias {
				return
			}
			key, v.alias = canonical, true
		}
	}
	m[key] = v
}

// setGroupVar sets a group variable; "all" vars are the global vars. For
// Ansible formats ansible_group_priority sets the group's priority.
func (b *builder) setGroupVar(g *groupDef, key string, v val) error {
	if g.name == groupAll {
		b.setVar(b.global, key, v)
		return nil
	}
	if b.ansible() && key == "ansible_group_priority" {
		p, err := strconv.Atoi(strings.TrimSpace(v.s))
		if err != nil {
			return b.errf(v.line, ErrBadValue, "group %s: ansible_group_priority must be an integer, found %q", g.name, v.s)
		}
		g.priority = p
		return nil
	}
	b.setVar(g.vars, key, v)
	return nil
}

// finish validates the collected definitions and builds the Inventory.
func (b *builder) finish() (*Inventory, error) {
	if len(b.hosts) == 0 {
		return nil, b.errf(1, ErrNoHosts, "no hosts defined")
	}
	if len(b.hosts)*len(b.groups) > maxMembership {
		return nil, b.errf(1, ErrBadValue, "inventory too large: %d hosts in %d groups", len(b.hosts), len(b.groups))
	}
	if err := b.checkGroups(); err != nil {
		return nil, err
	}
	if err := b.checkCycles(); err != nil {
		return nil, err
	}
	members := b.members()
	depth := b.depths()

	inv := &Inventory{
		Path:   b.file,
		Format: b.format,
		Groups: make(map[string][]string, len(b.groups)),
		Vars:   make(map[string]string, len(b.global)),
		byName: make(map[string]*Host, len(b.hosts)),
	}
	for k, v := range b.global {
		if !b.ansible() || !slices.Contains(connAnsible[:], k) {
			inv.Vars[k] = v.s
		}
	}
	for _, g := range b.groups {
		names := make([]string, len(members[g]))
		for i, h := range members[g] {
			names[i] = h.name
		}
		inv.Groups[g.name] = names
		if !b.ansible() && g.name != groupAll && len(names) == 0 {
			return nil, b.errf(g.line, ErrEmptyGroup, "group %s has no hosts", g.name)
		}
	}

	// Groups ordered by variable precedence: lower depth, then lower
	// priority, then name come first and are overridden by later ones.
	byPrecedence := slices.Clone(b.groups)
	slices.SortFunc(byPrecedence, func(x, y *groupDef) int {
		return cmp.Or(cmp.Compare(depth[x], depth[y]), cmp.Compare(x.priority, y.priority), cmp.Compare(x.name, y.name))
	})
	in := make(map[*groupDef]map[*hostDef]bool, len(b.groups))
	for _, g := range b.groups {
		in[g] = make(map[*hostDef]bool, len(members[g]))
		for _, h := range members[g] {
			in[g][h] = true
		}
	}

	for _, hd := range b.hosts {
		h := &Host{Name: hd.name}
		merged := make(varMap, len(b.global)+len(hd.vars))
		for k, v := range b.global {
			merged[k] = v
		}
		for _, g := range byPrecedence {
			if !in[g][hd] {
				continue
			}
			h.Groups = append(h.Groups, g.name)
			for k, v := range g.vars {
				merged[k] = v
			}
		}
		for k, v := range hd.vars {
			merged[k] = v
		}
		slices.Sort(h.Groups)

		conn := hd.conn
		if b.ansible() {
			for k, name := range connAnsible {
				if v, ok := merged[name]; ok {
					conn[k] = &v
					delete(merged, name)
				}
			}
		} else {
			for k := range conn {
				if conn[k] == nil {
					conn[k] = b.defaults[k]
				}
			}
		}
		if err := b.connect(h, conn); err != nil {
			return nil, err
		}
		h.Vars = make(map[string]string, len(merged))
		for k, v := range merged {
			h.Vars[k] = v.s
		}
		inv.Hosts = append(inv.Hosts, h)
		inv.byName[h.Name] = h
	}
	return inv, nil
}

// checkGroups reports groups that are referenced but never declared, groups
// named like hosts, and misuse of the implicit groups.
func (b *builder) checkGroups() error {
	for _, g := range b.groups {
		if !g.declared {
			names := make([]string, 0, len(b.groups))
			for _, d := range b.groups {
				if d.declared {
					names = append(names, d.name)
				}
			}
			return b.errf(g.line, ErrUnknownGroup, "%s%s", g.ref, suggest(g.name, names))
		}
		if h, clash := b.hostMap[g.name]; clash {
			return b.errf(max(g.line, h.line), ErrBadName, "%q is both a group and a host; host patterns would be ambiguous", g.name)
		}
		for _, c := range g.children {
			switch {
			case c.name == groupAll:
				return b.errf(c.line, ErrCycle, "group %s cannot have %q as a child: every group is already in %q", g.name, groupAll, groupAll)
			case b.ansible() && g.name == groupUngrouped:
				return b.errf(c.line, ErrBadName, "group %q cannot have children", groupUngrouped)
			}
		}
	}
	return nil
}

// checkCycles reports a group that contains itself through children.
func (b *builder) checkCycles() error {
	const (
		unvisited = iota
		active
		done
	)
	state := make(map[*groupDef]int, len(b.groups))
	var path []string
	var visit func(g *groupDef) error
	visit = func(g *groupDef) error {
		state[g] = active
		path = append(path, g.name)
		for _, c := range g.children {
			child := b.groupMap[c.name]
			switch state[child] {
			case active:
				i := slices.Index(path, child.name)
				cycle := strings.Join(append(slices.Clone(path[i:]), child.name), " -> ")
				return b.errf(c.line, ErrCycle, "groups contain each other: %s", cycle)
			case unvisited:
				if err := visit(child); err != nil {
					return err
				}
			}
		}
		path = path[:len(path)-1]
		state[g] = done
		return nil
	}
	for _, g := range b.groups {
		if state[g] == unvisited {
			if err := visit(g); err != nil {
				return err
			}
		}
	}
	return nil
}

// members returns each group's hosts, transitively through children, in
// inventory order. The groups must be acyclic.
func (b *builder) members() map[*groupDef][]*hostDef {
	out := make(map[*groupDef][]*hostDef, len(b.groups))
	var collect func(g *groupDef) []*hostDef
	collect = func(g *groupDef) []*hostDef {
		if hs, ok := out[g]; ok {
			return hs
		}
		set := map[*hostDef]bool{}
		for _, h := range g.hosts {
			set[h] = true
		}
		for _, c := range g.children {
			for _, h := range collect(b.groupMap[c.name]) {
				set[h] = true
			}
		}
		hs := make([]*hostDef, 0, len(set))
		for h := range set {
			hs = append(hs, h)
		}
		slices.SortFunc(hs, func(x, y *hostDef) int { return cmp.Compare(x.index, y.index) })
		out[g] = hs
		return hs
	}
	for _, g := range b.groups {
		collect(g)
	}
	out[b.groupMap[groupAll]] = b.hosts

	// Ansible's "ungrouped": hosts in no group other than all.
	if ug, ok := b.groupMap[groupUngrouped]; ok && b.ansible() {
		grouped := map[*hostDef]bool{}
		for _, g := range b.groups {
			if g.name != groupAll && g.name != groupUngrouped {
				for _, h := range out[g] {
					grouped[h] = true
				}
			}
		}
		var hs []*hostDef
		for _, h := range b.hosts {
			if !grouped[h] {
				hs = append(hs, h)
			}
		}
		out[ug] = hs
	}
	return out
}

// depths returns each group's depth: 0 for all, 1 for groups without a
// parent, and one more than the deepest parent otherwise. The groups must be
// acyclic.
func (b *builder) depths() map[*groupDef]int {
	parents := map[*groupDef][]*groupDef{}
	for _, g := range b.groups {
		if g.name == groupAll {
			continue
		}
		for _, c := range g.children {
			child := b.groupMap[c.name]
			parents[child] = append(parents[child], g)
		}
	}
	depth := map[*groupDef]int{b.groupMap[groupAll]: 0}
	var of func(g *groupDef) int
	of = func(g *groupDef) int {
		if d, ok := depth[g]; ok {
			return d
		}
		d := 1
		for _, p := range parents[g] {
			d = max(d, of(p)+1)
		}
		depth[g] = d
		return d
	}
	for _, g := range b.groups {
		of(g)
	}
	return depth
}

// connect validates the connection settings and stores them in h.
func (b *builder) connect(h *Host, conn [numConn]*val) error {
	names := connNative
	if b.ansible() {
		names = connAnsible
	}
	for k, v := range conn {
		if v == nil {
			continue
		}
		bad := func(format string, args ...any) error {
			return b.errf(v.line, ErrBadValue, "host %s: %s %q: %s", h.Name, names[k], v.s, fmt.Sprintf(format, args...))
		}
		s := v.s
		switch {
		case strings.Contains(s, "{{") || strings.Contains(s, "{%"):
			return bad("templates are not evaluated; write the value itself")
		case s == "":
			return bad("must not be empty")
		case connKey(k) != connIdentity && strings.ContainsFunc(s, isSpaceOrControl):
			return bad("must not contain spaces or control characters")
		}
		switch connKey(k) {
		case connAddress:
			h.Address = s
		case connUser:
			h.User = s
		case connPort:
			p, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil || p < 1 || p > 65535 {
				return bad("want a port number from 1 to 65535")
			}
			h.Port = p
		case connIdentity:
			path, err := expandHome(s)
			if err != nil {
				return bad("%v", err)
			}
			h.IdentityFile = path
		}
	}
	return nil
}

// expandHome replaces a leading "~" or "~/" with the home directory.
func expandHome(path string) (string, error) {
	if path != "~" && !strings.HasPrefix(path, "~/") {
		if strings.HasPrefix(path, "~") {
			return "", fmt.Errorf("only ~/ is expanded, not ~user/")
		}
		return path, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("cannot expand ~: %v", err)
	}
	return home + path[1:], nil
}
