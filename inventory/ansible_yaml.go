package inventory

import (
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// parseAnsibleYAML reads an Ansible YAML inventory:
//
//	all:
//	  vars: {name: value}
//	  hosts: {host: {var: value}}
//	  children:
//	    group: {hosts: ..., vars: ..., children: ...}
//
// Top-level groups other than all are children of all. A group may be
// defined in several places; its hosts, vars and children add up.
func parseAnsibleYAML(b *builder, d *yamlDoc) error {
	if d.root == nil {
		return b.errf(1, ErrNoHosts, "empty inventory: no hosts defined")
	}
	top, err := d.mapping(d.root, "the top level", ErrSyntax, "group")
	if err != nil {
		return err
	}
	for _, p := range top {
		g, err := b.declare(p.key, p.knode.Line)
		if err != nil {
			return err
		}
		if err := ansibleGroup(b, d, g, p.val, nil); err != nil {
			return err
		}
	}
	return nil
}

// ansibleGroup reads the definition n of group g. parents are the groups
// being read around it, to stop on self-containing groups (which YAML
// anchors make possible) before recursing forever.
func ansibleGroup(b *builder, d *yamlDoc, g *groupDef, n *yaml.Node, parents []string) error {
	what := "group " + g.name
	if n = deref(n); !isNull(n) && n.Kind != yaml.MappingNode {
		return d.errf(n.Line, ErrSyntax, "%s must be a mapping with %s, found %s", what, quoteList(ansibleGroupKeys, "or"), kindName(n))
	}
	entries, err := d.mapping(n, what, ErrSyntax, "key")
	if err != nil {
		return err
	}
	for _, e := range entries {
		switch e.key {
		case "hosts":
			err = ansibleHosts(b, d, g, e.val, what)
		case "vars":
			err = d.vars(e.val, what+" vars", func(k string, v val) error { return b.setGroupVar(g, k, v) })
		case "children":
			err = ansibleChildren(b, d, g, e.val, append(slices.Clip(parents), g.name))
		default:
			err = unknownKey(d, e, "in "+what, ansibleGroupKeys)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// ansibleChildren reads the children mapping of group g.
func ansibleChildren(b *builder, d *yamlDoc, g *groupDef, n *yaml.Node, parents []string) error {
	children, err := d.mapping(n, "group "+g.name+" children", ErrSyntax, "group")
	if err != nil {
		return err
	}
	for _, c := range children {
		line := c.knode.Line
		if slices.Contains(parents, c.key) {
			return b.errf(line, ErrCycle, "group %s contains itself: %s -> %s", c.key, strings.Join(parents, " -> "), c.key)
		}
		if len(parents) > maxYAMLDepth {
			return b.errf(line, ErrSyntax, "groups nested more than %d deep", maxYAMLDepth)
		}
		child, err := b.declare(c.key, line)
		if err != nil {
			return err
		}
		if err := b.addChild(g, c.key, line, ""); err != nil {
			return err
		}
		if err := ansibleGroup(b, d, child, c.val, parents); err != nil {
			return err
		}
	}
	return nil
}

// ansibleHosts reads the hosts mapping of group g: host entries (with
// ranges and :port) mapped to null or to host variables.
func ansibleHosts(b *builder, d *yamlDoc, g *groupDef, n *yaml.Node, what string) error {
	entries, err := d.mapping(n, what+" hosts", ErrDuplicateHost, "host")
	if err != nil {
		return err
	}
	listed := map[string]int{}
	for _, e := range entries {
		line := e.knode.Line
		names, port, err := expandHostPattern(e.key)
		if err != nil {
			return b.errf(line, ErrBadName, "%s: invalid host entry %q: %v", what, e.key, err)
		}
		hosts := make([]*hostDef, 0, len(names))
		for _, name := range names {
			if first, dup := listed[name]; dup {
				return b.errf(line, ErrDuplicateHost, "host %s is listed twice in %s (first at line %d)", name, what, first)
			}
			listed[name] = line
			h, err := b.host(name, line)
			if err != nil {
				return err
			}
			b.addMember(g, h)
			if port != "" {
				b.setVar(h.vars, "ansible_port", val{s: port, line: line})
			}
			hosts = append(hosts, h)
		}
		// The variables, decoded once for all the hosts of a range. A null
		// or empty-string value means none.
		if v := deref(e.val); !(v.Kind == yaml.ScalarNode && v.Tag == "!!str" && v.Value == "") {
			err := d.vars(v, "host "+e.key+" variables", func(k string, v val) error {
				if err := b.spend(v.line, len(hosts)); err != nil {
					return err
				}
				for _, h := range hosts {
					b.setVar(h.vars, k, v)
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
	}
	return nil
}
