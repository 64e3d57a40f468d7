package facts

import (
	"errors"
	"strings"
)

// Sentinel errors of the parsers. Every error returned by ParseKubeadmConfig,
// ParseInitialCluster, ParseEtcdVersion, ParseDF, ParseDFRows and
// ParseNodeReport wraps at least one of them; test with errors.Is.
var (
	// ErrMalformed: the input is not what it claims to be: a YAML syntax
	// error (the message carries the line when the YAML library reports one:
	// it does not for line 1), a value of the wrong type, an
	// ambiguous document or argument, an invalid URL outside initial-cluster.
	ErrMalformed = errors.New("malformed")
	// ErrNoClusterConfiguration: no YAML document has kind ClusterConfiguration.
	ErrNoClusterConfiguration = errors.New("no ClusterConfiguration document")
	// ErrExternalEtcd: the ClusterConfiguration uses etcd.external, not
	// etcd.local. That is /etc/cray/kubernetes/kubeadm.yaml (etcd behind
	// haproxy), not the per-node /etc/kubernetes/kubeadmcfg.yaml.
	ErrExternalEtcd = errors.New("external etcd, not local")
	// ErrMissingField: a required field is absent or empty; the message names
	// its path, for example etcd.local.extraArgs.name.
	ErrMissingField = errors.New("missing field")
	// ErrBadInitialCluster: the initial-cluster value is not a list of
	// name=URL pairs with valid, unique names and peer URLs.
	ErrBadInitialCluster = errors.New("bad initial-cluster")
	// ErrBadVersion: no etcd, etcdctl or etcdutl version line in the output.
	ErrBadVersion = errors.New("bad version output")
	// ErrUnsupportedVersion: an etcd version this tool cannot restore
	// (older than 3.4, or a major version other than 3).
	ErrUnsupportedVersion = errors.New("unsupported etcd version")
	// ErrBadDF: the output is not `df -P -B1` output.
	ErrBadDF = errors.New("bad df output")
	// ErrBadReport: a node report is truncated, lacks a required section or
	// holds one twice.
	ErrBadReport = errors.New("bad node report")
)

// Sentinel errors of Check. Every error Check returns is a *HostError that
// wraps exactly one of them (ErrNoRestoreTool may wrap the reason too).
var (
	// ErrNameNotInCluster: a node's member name is missing from its own
	// initial-cluster or from another node's.
	ErrNameNotInCluster = errors.New("member name not in initial-cluster")
	// ErrClusterMismatch: the nodes do not all hold the same initial-cluster.
	ErrClusterMismatch = errors.New("initial-cluster differs between nodes")
	// ErrMemberNotInInventory: a member of the initial-cluster has no host in
	// the inventory, so the restore would not reach it.
	ErrMemberNotInInventory = errors.New("member not in inventory")
	// ErrPeerURLMismatch: a node's initial-advertise-peer-urls differs from
	// its own entry in the initial-cluster.
	ErrPeerURLMismatch = errors.New("initial-advertise-peer-urls differs from initial-cluster")
	// ErrDuplicateName: two nodes claim the same member name.
	ErrDuplicateName = errors.New("duplicate member name")
	// ErrDuplicateHost: facts were given twice for one host.
	ErrDuplicateHost = errors.New("duplicate host")
	// ErrNoFacts: an inventory host has no node facts (or no node was given).
	ErrNoFacts = errors.New("no facts for host")
	// ErrUnknownHost: facts were given for a host that is not in the inventory.
	ErrUnknownHost = errors.New("host not in inventory")
	// ErrVersionMismatch: etcd major.minor versions differ between nodes, or
	// a node's restore tool is not the same major.minor as its etcd.
	ErrVersionMismatch = errors.New("etcd version mismatch")
	// ErrNoSpace: not enough free space for the restore (or no usable
	// snapshot size to check against).
	ErrNoSpace = errors.New("not enough free space")
	// ErrNoRestoreTool: no usable snapshot restore tool on a node.
	ErrNoRestoreTool = errors.New("no restore tool")
)

// HostError is one failure found by Check, attributed to the hosts concerned.
type HostError struct {
	// Hosts are the inventory hosts the failure concerns, in a stable order;
	// for ErrMemberNotInInventory they are the hosts whose initial-cluster
	// lists the uncovered member. Empty when no host can be named.
	Hosts []string
	// Err is the failure; it wraps one of the Check sentinel errors.
	Err error
}

// Error returns "host1, host2: <Err>", or just Err's text when Hosts is empty.
func (e *HostError) Error() string {
	if len(e.Hosts) == 0 {
		return e.Err.Error()
	}
	return strings.Join(e.Hosts, ", ") + ": " + e.Err.Error()
}

// Unwrap returns Err, so that errors.Is sees the sentinel.
func (e *HostError) Unwrap() error { return e.Err }
