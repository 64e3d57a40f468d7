package facts

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// WALReserve is the room Check adds to twice the snapshot size on each
// filesystem: a restored member directory holds, besides the bbolt database,
// a write-ahead log whose first segment etcd preallocates at 64 MiB. For a
// real 17.5 MB snapshot that is most of the space needed.
const WALReserve = 64 << 20

// Check cross-checks the facts of the master nodes before a restore and
// returns every failure found, not just the first, in a stable order; nil
// when all is well. Each failure is a *HostError naming the host(s)
// concerned and wrapping one sentinel:
//
//   - ErrDuplicateHost: two Nodes with one Host.
//   - ErrUnknownHost: a Node whose Host is not in inventoryHosts.
//   - ErrNoFacts: an inventory host without a Node (or no hosts at all).
//   - ErrDuplicateName: two nodes with the same member name.
//   - ErrNameNotInCluster: a node's member name is not in its own
//     initial-cluster (its inventory host maps to no member), or not in
//     another node's.
//   - ErrPeerURLMismatch: a node's initial-advertise-peer-urls is not its
//     own initial-cluster entry's URL.
//   - ErrClusterMismatch: the nodes' initial-clusters differ, compared as
//     sets of name=URL (order does not matter to etcd); the message shows
//     each distinct value with its hosts and the entries not on every node.
//   - ErrMemberNotInInventory: a member of an initial-cluster that no
//     inventory host's node claims as its name.
//   - ErrVersionMismatch: etcd major.minor differs between nodes (a
//     mixed-version restore is unsafe), or a node's restore tool is not the
//     major.minor of its etcd.
//   - ErrNoRestoreTool: a node without a usable restore tool (the error
//     also wraps Node.RestoreToolErr).
//   - ErrNoSpace: less than 3 × snapshotSize + 2 × WALReserve available in
//     the staging directory (the dump, the restored member and the copy
//     that counts the snapshot's keys), or less than 2 × snapshotSize +
//     WALReserve in the data directory of a node; or
//     snapshotSize ≤ 0, since then nothing can be checked.
//
// snapshotSize is the size in bytes of the uncompressed snapshot
// (etcd-dump.bin); when only the compressed size is known, pass an upper
// bound. Check does not look at Node.Lock or Node.EtcdActive.
func Check(nodes []Node, inventoryHosts []string, snapshotSize int64) []error {
	var errs []error
	add := func(err error, hosts ...string) {
		errs = append(errs, &HostError{Hosts: hosts, Err: err})
	}

	// Hosts: facts and inventory must match one to one.
	inventory := make(map[string]bool, len(inventoryHosts))
	for _, h := range inventoryHosts {
		inventory[h] = true
	}
	byHost := make(map[string]bool, len(nodes))
	var uniq []Node // nodes with their first facts per host
	for _, n := range nodes {
		if byHost[n.Host] {
			add(fmt.Errorf("%w: facts given twice for host %q", ErrDuplicateHost, n.Host), n.Host)
			continue
		}
		byHost[n.Host] = true
		uniq = append(uniq, n)
		if !inventory[n.Host] {
			add(fmt.Errorf("%w: host %q has facts but is not in the inventory", ErrUnknownHost, n.Host), n.Host)
		}
	}
	if len(inventoryHosts) == 0 && len(nodes) == 0 {
		add(fmt.Errorf("%w: no inventory hosts and no node facts", ErrNoFacts))
	}
	seenInv := make(map[string]bool, len(inventoryHosts))
	for _, h := range inventoryHosts {
		if seenInv[h] {
			continue
		}
		seenInv[h] = true
		if !byHost[h] {
			add(fmt.Errorf("%w: no facts were gathered from inventory host %q", ErrNoFacts, h), h)
		}
	}
	nodes = uniq

	// Member names: unique, in their own initial-cluster, and in every other.
	namesSeen := make(map[string]bool)
	for _, n := range nodes {
		name := n.Member.Name
		if name == "" || namesSeen[name] {
			continue
		}
		namesSeen[name] = true
		var hosts []string
		for _, o := range nodes {
			if o.Member.Name == name {
				hosts = append(hosts, o.Host)
			}
		}
		if len(hosts) > 1 {
			add(fmt.Errorf("%w: hosts %s all claim member name %q", ErrDuplicateName, strings.Join(hosts, ", "), name), hosts...)
		}
	}
	for _, n := range nodes {
		m := n.Member
		if m.Name == "" {
			add(fmt.Errorf("%w: host %s has no member name", ErrNameNotInCluster, n.Host), n.Host)
			continue
		}
		p, ok := m.Peer(m.Name)
		if !ok {
			add(fmt.Errorf("%w: member name %q of host %s is not in its own initial-cluster %q: the host maps to no member",
				ErrNameNotInCluster, m.Name, n.Host, FormatInitialCluster(m.InitialCluster)), n.Host)
			continue
		}
		if !sameURLSet(m.PeerURLs(), []string{p.URL}) {
			add(fmt.Errorf("%w: host %s: initial-advertise-peer-urls is %q but its initial-cluster entry is %s",
				ErrPeerURLMismatch, n.Host, m.InitialAdvertisePeerURLs, p), n.Host)
		}
	}
	for _, holder := range nodes {
		for _, n := range nodes {
			if n.Host == holder.Host || n.Member.Name == "" {
				continue
			}
			if _, ok := holder.Member.Peer(n.Member.Name); !ok {
				add(fmt.Errorf("%w: member name %q of host %s is not in the initial-cluster of host %s (%q)",
					ErrNameNotInCluster, n.Member.Name, n.Host, holder.Host, FormatInitialCluster(holder.Member.InitialCluster)),
					n.Host, holder.Host)
			}
		}
	}

	// The same initial-cluster everywhere.
	if err := clusterMismatch(nodes); err != nil {
		add(err, hostsOf(nodes)...)
	}

	// Every member of the initial-cluster reachable through the inventory.
	claimed := make(map[string]bool)
	for _, n := range nodes {
		if inventory[n.Host] && n.Member.Name != "" {
			claimed[n.Member.Name] = true
		}
	}
	var memberOrder []Peer
	listedBy := make(map[string][]string)
	for _, n := range nodes {
		for _, p := range n.Member.InitialCluster {
			if _, ok := listedBy[p.Name]; !ok {
				memberOrder = append(memberOrder, p)
			}
			listedBy[p.Name] = append(listedBy[p.Name], n.Host)
		}
	}
	for _, p := range memberOrder {
		if !claimed[p.Name] {
			add(fmt.Errorf("%w: member %s of the initial-cluster has no host in the inventory (no host's kubeadmcfg.yaml names it): the restore would leave it out",
				ErrMemberNotInInventory, p), listedBy[p.Name]...)
		}
	}

	// Versions.
	if err := versionMismatch(nodes); err != nil {
		add(err, hostsOf(nodes)...)
	}
	for _, n := range nodes {
		tv := n.ToolVersion()
		if !tv.IsZero() && !n.Version.IsZero() && !tv.SameMinor(n.Version) {
			add(fmt.Errorf("%w: host %s restores with %s %s but runs etcd %s: use a restore tool of the same major.minor as etcd",
				ErrVersionMismatch, n.Host, n.RestoreTool, tv, n.Version), n.Host)
		}
	}

	// Restore tool.
	for _, n := range nodes {
		if n.RestoreTool != ToolNone {
			continue
		}
		switch reason := n.RestoreToolErr; {
		case reason == nil:
			add(fmt.Errorf("%w: host %s", ErrNoRestoreTool, n.Host), n.Host)
		case errors.Is(reason, ErrNoRestoreTool):
			add(fmt.Errorf("host %s: %w", n.Host, reason), n.Host)
		default:
			add(fmt.Errorf("%w: host %s: %w", ErrNoRestoreTool, n.Host, reason), n.Host)
		}
	}

	// Free space.
	if snapshotSize <= 0 {
		add(fmt.Errorf("%w: snapshot size %d is not positive: free space cannot be checked", ErrNoSpace, snapshotSize))
	} else {
		size := uint64(snapshotSize)
		for _, n := range nodes {
			for _, fs := range []struct {
				what, mount string
				free        uint64
				copies      uint64 // snapshot-sized files
				wals        uint64 // restored members, each with a WAL
			}{
				{"staging directory", n.StagingMount, n.FreeStaging, 3, 2},
				{"etcd data directory", n.DataMount, n.FreeData, 2, 1},
			} {
				need := fs.copies*size + fs.wals*WALReserve
				if fs.free < need {
					add(fmt.Errorf("%w: host %s: %s available for the %s (on %s), need %s (%d × snapshot %s + %d × %s for the WAL)",
						ErrNoSpace, n.Host, bytesString(fs.free), fs.what, orUnknown(fs.mount), bytesString(need),
						fs.copies, bytesString(size), fs.wals, bytesString(WALReserve)), n.Host)
				}
			}
		}
	}
	return errs
}

// AllSupportBumpRevision reports whether every node's restore tool has
// --bump-revision and --mark-compacted (Node.BumpRevision). Those flags
// change the restored revisions, so the restore must pass them to all
// members or to none; false for no nodes.
func AllSupportBumpRevision(nodes []Node) bool {
	for _, n := range nodes {
		if !n.BumpRevision {
			return false
		}
	}
	return len(nodes) > 0
}

// clusterMismatch compares the nodes' initial-clusters as sets.
func clusterMismatch(nodes []Node) error {
	type group struct {
		value string // initial-cluster as written on the first host
		hosts []string
	}
	var groups []*group
	byKey := make(map[string]*group)
	entryHosts := make(map[string][]string) // normalized entry -> hosts
	var entryOrder []string
	entryText := make(map[string]string)
	for _, n := range nodes {
		entries := make([]string, 0, len(n.Member.InitialCluster))
		for _, p := range n.Member.InitialCluster {
			e := p.Name + "=" + normalizeURL(p.URL)
			entries = append(entries, e)
			if _, ok := entryHosts[e]; !ok {
				entryOrder = append(entryOrder, e)
				entryText[e] = p.String()
			}
			entryHosts[e] = append(entryHosts[e], n.Host)
		}
		sort.Strings(entries)
		key := strings.Join(entries, ",")
		g, ok := byKey[key]
		if !ok {
			g = &group{value: FormatInitialCluster(n.Member.InitialCluster)}
			byKey[key] = g
			groups = append(groups, g)
		}
		g.hosts = append(g.hosts, n.Host)
	}
	if len(groups) < 2 {
		return nil
	}
	var b strings.Builder
	for i, g := range groups {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s: %q", strings.Join(g.hosts, ", "), g.value)
	}
	b.WriteString(". Entries not on every node: ")
	first := true
	for _, e := range entryOrder {
		if len(entryHosts[e]) == len(nodes) {
			continue
		}
		if !first {
			b.WriteString(", ")
		}
		first = false
		fmt.Fprintf(&b, "%s (only on %s)", entryText[e], strings.Join(entryHosts[e], ", "))
	}
	return fmt.Errorf("%w: %s", ErrClusterMismatch, b.String())
}

// versionMismatch groups the nodes by etcd major.minor.
func versionMismatch(nodes []Node) error {
	var order []string
	byMM := make(map[string][]string)
	for _, n := range nodes {
		if n.Version.IsZero() {
			continue
		}
		mm := n.Version.MajorMinor()
		if _, ok := byMM[mm]; !ok {
			order = append(order, mm)
		}
		byMM[mm] = append(byMM[mm], fmt.Sprintf("%s (%s)", n.Host, n.Version))
	}
	if len(order) < 2 {
		return nil
	}
	parts := make([]string, len(order))
	for i, mm := range order {
		parts[i] = "etcd " + mm + " on " + strings.Join(byMM[mm], ", ")
	}
	return fmt.Errorf("%w: %s: a restore across mixed etcd versions is unsafe; bring every master to the same etcd release first",
		ErrVersionMismatch, strings.Join(parts, "; "))
}

// sameURLSet reports whether a and b hold the same peer URLs, in any order.
func sameURLSet(a, b []string) bool {
	norm := func(s []string) []string {
		out := make([]string, len(s))
		for i, u := range s {
			out[i] = normalizeURL(strings.TrimSpace(u))
		}
		slices.Sort(out)
		return slices.Compact(out)
	}
	return slices.Equal(norm(a), norm(b))
}

func hostsOf(nodes []Node) []string {
	hosts := make([]string, len(nodes))
	for i, n := range nodes {
		hosts[i] = n.Host
	}
	return hosts
}

func orUnknown(s string) string {
	if s == "" {
		return "an unknown mount"
	}
	return s
}

// bytesString formats n as "123456789 bytes (117.7 MiB)".
func bytesString(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d bytes", n)
	}
	f, suffixes := float64(n)/unit, []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	i := 0
	for f >= unit && i < len(suffixes)-1 {
		f /= unit
		i++
	}
	return fmt.Sprintf("%d bytes (%.1f %s)", n, f, suffixes[i])
}
