package inventory

import (
	"slices"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// Keys of the native format, besides the top level (nativeTopKeys).
var (
	nativeHostKeys    = []string{"address", "user", "port", "identity_file", "vars"}
	nativeDefaultKeys = []string{"user", "port", "identity_file"}
	nativeGroupKeys   = []string{"hosts", "vars", "children"}
)

// parseNative reads ncnpush's own format:
//
//	vars: {name: value}
//	defaults: {user: root, port: 22, identity_file: ~/.ssh/id_ed25519}
//	hosts:
//	  ncn-m001: {address: 10.0.0.1, user: root, port: 22, identity_file: key, vars: {a: b}}
//	groups:
//	  masters: {hosts: [ncn-m001], vars: {a: b}, children: [other]}
func parseNative(b *builder, d *yamlDoc) error {
	if d.root == nil {
		return b.errf(1, ErrNoHosts, "empty inventory: no hosts defined")
	}
	top, err := d.mapping(d.root, "the top level", ErrSyntax, "key")
	if err != nil {
		return err
	}
	sections := map[string]*yaml.Node{}
	for _, p := range top {
		if !slices.Contains(nativeTopKeys, p.key) {
			return unknownKey(d, p, "at the top level", nativeTopKeys)
		}
		sections[p.key] = p.val
	}
	if n, ok := sections["vars"]; ok {
		if err := d.vars(n, "vars", func(k string, v val) error { b.setVar(b.global, k, v); return nil }); err != nil {
			return err
		}
	}
	if n, ok := sections["defaults"]; ok {
		if err := nativeConn(b, d, n, "defaults", nativeDefaultKeys, &b.defaults, nil); err != nil {
			return err
		}
	}
	n, ok := sections["hosts"]
	if !ok || isNull(n) {
		line := 1
		if ok {
			line = n.Line
		}
		return b.errf(line, ErrNoHosts, "no hosts: the native format needs a top-level \"hosts\" mapping of host names")
	}
	hosts, err := d.mapping(n, "hosts", ErrDuplicateHost, "host")
	if err != nil {
		return err
	}
	for _, p := range hosts {
		h, err := b.host(p.key, p.knode.Line)
		if err != nil {
			return err
		}
		if err := nativeConn(b, d, p.val, "host "+p.key, nativeHostKeys, &h.conn, h.vars); err != nil {
			return err
		}
	}
	if n, ok := sections["groups"]; ok {
		if err := nativeGroups(b, d, n); err != nil {
			return err
		}
	}
	if g, ok := b.groupMap[groupMasters]; !ok || !g.declared {
		g, err := b.declare(groupMasters, 0)
		if err != nil {
			return err
		}
		for _, h := range b.hosts {
			b.addMember(g, h)
		}
	}
	return nil
}

// nativeConn reads a host entry or the defaults: connection settings into
// conn, and (if vars is not nil) a "vars" mapping into vars.
func nativeConn(b *builder, d *yamlDoc, n *yaml.Node, what string, allowed []string, conn *[numConn]*val, vars varMap) error {
	pairs, err := d.mapping(n, what, ErrSyntax, "key")
	if err != nil {
		return err
	}
	for _, p := range pairs {
		if p.key == "vars" && vars != nil {
			err := d.vars(p.val, what+" vars", func(k string, v val) error { b.setVar(vars, k, v); return nil })
			if err != nil {
				return err
			}
			continue
		}
		k := slices.Index(connNative[:], p.key)
		if k < 0 || !slices.Contains(allowed, p.key) {
			return unknownKey(d, p, "in "+what, allowed)
		}
		v, err := d.scalar(p.val, what+" "+p.key)
		if err != nil {
			return err
		}
		conn[k] = &v
	}
	return nil
}

// nativeGroups reads the groups mapping.
func nativeGroups(b *builder, d *yamlDoc, n *yaml.Node) error {
	groups, err := d.mapping(n, "groups", ErrSyntax, "group")
	if err != nil {
		return err
	}
	for _, p := range groups {
		if p.key == groupAll {
			return b.errf(p.knode.Line, ErrBadName, "group %q is implicit (every host is in it) and cannot be declared", groupAll)
		}
		g, err := b.declare(p.key, p.knode.Line)
		if err != nil {
			return err
		}
		what := "group " + p.key
		entries, err := d.mapping(p.val, what, ErrSyntax, "key")
		if err != nil {
			return err
		}
		for _, e := range entries {
			switch e.key {
			case "hosts":
				err = nativeGroupHosts(b, d, g, e.val, what)
			case "vars":
				err = d.vars(e.val, what+" vars", func(k string, v val) error { return b.setGroupVar(g, k, v) })
			case "children":
				err = nativeGroupChildren(b, d, g, e.val, what)
			default:
				err = unknownKey(d, e, "in "+what, nativeGroupKeys)
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// nativeGroupHosts reads the host list of group g; every host must be defined
// under the top-level hosts.
func nativeGroupHosts(b *builder, d *yamlDoc, g *groupDef, n *yaml.Node, what string) error {
	items, err := d.list(n, what+" hosts")
	if err != nil {
		return err
	}
	seen := map[string]int{}
	for _, item := range items {
		name := item.Value
		h, ok := b.hostMap[name]
		if !ok {
			return b.errf(item.Line, ErrUnknownHost, "%s lists unknown host %q (not under the top-level hosts)%s",
				what, name, suggest(name, hostNames(b)))
		}
		if first, dup := seen[name]; dup {
			return b.errf(item.Line, ErrDuplicateHost, "host %s is listed twice in %s (first at line %d)", name, what, first)
		}
		seen[name] = item.Line
		b.addMember(g, h)
	}
	return nil
}

// nativeGroupChildren reads the child group list of group g.
func nativeGroupChildren(b *builder, d *yamlDoc, g *groupDef, n *yaml.Node, what string) error {
	items, err := d.list(n, what+" children")
	if err != nil {
		return err
	}
	for _, item := range items {
		ref := what + " lists unknown child group " + strconv.Quote(item.Value) + " (not under groups)"
		if err := b.addChild(g, item.Value, item.Line, ref); err != nil {
			return err
		}
	}
	return nil
}

// unknownKey reports the key of p as unknown where, suggesting a known one.
func unknownKey(d *yamlDoc, p pair, where string, known []string) error {
	hint := suggest(p.key, known)
	if hint == "" {
		hint = " (want " + quoteList(known, "or") + ")"
	}
	return d.errf(p.knode.Line, ErrUnknownKey, "unknown key %q %s%s", p.key, where, hint)
}

// hostNames returns the names of the hosts defined so far.
func hostNames(b *builder) []string {
	names := make([]string, len(b.hosts))
	for i, h := range b.hosts {
		names[i] = h.name
	}
	return names
}
