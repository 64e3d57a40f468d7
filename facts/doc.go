// Package facts parses the etcd facts that ncnpush reads from each master node
// (NCN) of an HPE Cray EX (CSM) Kubernetes control plane, and makes the
// cross-checks that the restore's preflight runs before it touches anything.
//
// Nothing here talks to a node. A preflight template runs on every master,
// prints a sectioned report (see [ParseNodeReport] and [SectionMarker]) with
// the content of /etc/kubernetes/kubeadmcfg.yaml, the outputs of
// `etcd --version`, `etcdutl version`, `etcdctl version`, `df -P -B1` and
// `systemctl is-active etcd`, and this package turns that text into a [Node].
// The node needs no yq: the YAML is parsed here, in Go.
//
// [Check] then compares the nodes with each other and with the inventory and
// returns every failure at once, each as a [*HostError] naming the host(s)
// and wrapping one of the sentinel errors of this package, so that callers can
// use [errors.Is] and [errors.As].
package facts
