package facts

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// MaxConfigSize is the largest kubeadm configuration ParseKubeadmConfig
// accepts, in bytes. The real file is about 1 KiB.
const MaxConfigSize = 1 << 20

// Field paths of the values ParseKubeadmConfig reads, as named in errors.
const (
	// FieldName is the member name (etcd --name).
	FieldName = "etcd.local.extraArgs.name"
	// FieldInitialCluster is the initial cluster (etcd --initial-cluster).
	FieldInitialCluster = "etcd.local.extraArgs.initial-cluster"
	// FieldInitialAdvertisePeerURLs is the member's own peer URL(s)
	// (etcd --initial-advertise-peer-urls).
	FieldInitialAdvertisePeerURLs = "etcd.local.extraArgs.initial-advertise-peer-urls"
)

// Peer is one member of an initial-cluster: name=URL.
type Peer struct {
	// Name is the etcd member name, for example "ncn-m001".
	Name string
	// URL is the member's peer URL exactly as written, for example
	// "https://10.252.1.10:2380": scheme http or https, host and port, no path.
	URL string
}

// String returns "Name=URL", the initial-cluster entry form.
func (p Peer) String() string { return p.Name + "=" + p.URL }

// EtcdMember is what a master node's /etc/kubernetes/kubeadmcfg.yaml says
// about the local etcd member it runs (etcd.local of its
// ClusterConfiguration). It holds what `etcdutl snapshot restore` needs.
type EtcdMember struct {
	// APIVersion is the apiVersion of the ClusterConfiguration document, for
	// example "kubeadm.k8s.io/v1beta2". Informational; any version is read.
	APIVersion string
	// Name is etcd.local.extraArgs.name, the member name; never empty.
	Name string
	// InitialCluster is etcd.local.extraArgs.initial-cluster parsed, in the
	// order written; never empty, names and peer URLs unique.
	InitialCluster []Peer
	// InitialClusterRaw is the initial-cluster value as written (trimmed).
	InitialClusterRaw string
	// InitialAdvertisePeerURLs is etcd.local.extraArgs.initial-advertise-peer-urls
	// as written (trimmed): one peer URL, or several separated by commas,
	// each valid. Never empty.
	InitialAdvertisePeerURLs string
	// ListenClientURLs is etcd.local.extraArgs.listen-client-urls as written;
	// empty if absent. Not validated.
	ListenClientURLs string
	// AdvertiseClientURLs is etcd.local.extraArgs.advertise-client-urls as
	// written; empty if absent. Not validated.
	AdvertiseClientURLs string
	// InitialClusterState is etcd.local.extraArgs.initial-cluster-state
	// ("new" or "existing") as written; empty if absent.
	InitialClusterState string
	// DataDir is etcd.local.dataDir; empty if absent (kubeadm's default is
	// /var/lib/etcd, and CSM's etcd.service uses --data-dir /var/lib/etcd).
	DataDir string
}

// PeerURLs returns InitialAdvertisePeerURLs split at commas.
func (m EtcdMember) PeerURLs() []string {
	if m.InitialAdvertisePeerURLs == "" {
		return nil
	}
	return strings.Split(m.InitialAdvertisePeerURLs, ",")
}

// Peer returns the InitialCluster entry named name.
func (m EtcdMember) Peer(name string) (Peer, bool) {
	for _, p := range m.InitialCluster {
		if p.Name == name {
			return p, true
		}
	}
	return Peer{}, false
}

// FormatInitialCluster joins peers into the initial-cluster form
// "n1=URL1,n2=URL2", the inverse of ParseInitialCluster.
func FormatInitialCluster(peers []Peer) string {
	parts := make([]string, len(peers))
	for i, p := range peers {
		parts[i] = p.String()
	}
	return strings.Join(parts, ",")
}

// ParseInitialCluster parses an etcd initial-cluster value
// "n1=https://a:2380,n2=https://b:2380" into its entries, in order. Every
// entry must be name=URL with a non-empty name, no whitespace, and a valid
// peer URL (see ValidatePeerURL). Names and peer URLs must be unique: etcd
// would accept one name several times (a member with several peer URLs), but
// no master node is set up like that, and the restore does not support it.
// Errors wrap ErrBadInitialCluster.
func ParseInitialCluster(s string) ([]Peer, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, fmt.Errorf("%w: empty", ErrBadInitialCluster)
	}
	entries := strings.Split(s, ",")
	peers := make([]Peer, 0, len(entries))
	names := make(map[string]int, len(entries))
	urls := make(map[string]int, len(entries))
	for i, e := range entries {
		n := i + 1
		if e == "" {
			return nil, fmt.Errorf("%w: entry %d is empty (stray comma)", ErrBadInitialCluster, n)
		}
		if strings.IndexFunc(e, isSpace) >= 0 {
			return nil, fmt.Errorf("%w: entry %d %q contains whitespace", ErrBadInitialCluster, n, clip(e))
		}
		name, u, ok := strings.Cut(e, "=")
		if !ok {
			return nil, fmt.Errorf("%w: entry %d %q is not name=URL", ErrBadInitialCluster, n, clip(e))
		}
		if name == "" {
			return nil, fmt.Errorf("%w: entry %d %q has an empty name", ErrBadInitialCluster, n, clip(e))
		}
		if err := ValidatePeerURL(u); err != nil {
			return nil, fmt.Errorf("%w: entry %d %q: %w", ErrBadInitialCluster, n, clip(e), err)
		}
		if prev, dup := names[name]; dup {
			return nil, fmt.Errorf("%w: member %q appears twice (entries %d and %d)", ErrBadInitialCluster, clip(name), prev, n)
		}
		norm := normalizeURL(u)
		if prev, dup := urls[norm]; dup {
			return nil, fmt.Errorf("%w: peer URL %q appears twice (entries %d and %d)", ErrBadInitialCluster, clip(u), prev, n)
		}
		names[name], urls[norm] = n, n
		peers = append(peers, Peer{Name: name, URL: u})
	}
	return peers, nil
}

// errBadURL is wrapped by ValidatePeerURL errors; it stays unexported because
// callers see it wrapped in ErrBadInitialCluster or ErrMalformed.
var errBadURL = errors.New("invalid peer URL")

// ValidatePeerURL reports whether s is a peer URL etcd accepts: scheme http
// or https, a host, a numeric port from 1 to 65535, and nothing else (no
// user, path, query or fragment).
func ValidatePeerURL(s string) error {
	if s == "" {
		return fmt.Errorf("%w: empty", errBadURL)
	}
	if strings.IndexFunc(s, isSpace) >= 0 {
		return fmt.Errorf("%w %q: contains whitespace", errBadURL, clip(s))
	}
	u, err := url.Parse(s)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URL, already quoted
		}
		return fmt.Errorf("%w %q: %w", errBadURL, clip(s), err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%w %q: scheme must be http or https", errBadURL, clip(s))
	}
	if u.Opaque != "" || u.User != nil || u.Path != "" || u.RawPath != "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.RawFragment != "" {
		return fmt.Errorf("%w %q: want scheme://host:port and nothing else", errBadURL, clip(s))
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil {
		var ae *net.AddrError
		if errors.As(err, &ae) {
			err = errors.New(ae.Err) // without the address, already quoted
		}
		return fmt.Errorf("%w %q: want host:port: %w", errBadURL, clip(s), err)
	}
	if host == "" {
		return fmt.Errorf("%w %q: no host", errBadURL, clip(s))
	}
	if p, err := strconv.ParseUint(port, 10, 16); err != nil || p == 0 {
		return fmt.Errorf("%w %q: port %q is not a number from 1 to 65535", errBadURL, clip(s), clip(port))
	}
	return nil
}

// normalizeURL returns a comparable form of a valid peer URL: lower-case
// scheme and host. It returns s unchanged if s does not parse.
func normalizeURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return s
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil {
		return s
	}
	return strings.ToLower(u.Scheme) + "://" + net.JoinHostPort(strings.ToLower(host), port)
}

// clip shortens s for an error message.
func clip(s string) string {
	const limit = 100
	if len(s) <= limit {
		return s
	}
	i := limit
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "..."
}

func isSpace(r rune) bool {
	switch r {
	case ' ', '\t', '\n', '\r', '\v', '\f', 0x85, 0xA0:
		return true
	}
	return false
}

// ParseKubeadmConfig parses /etc/kubernetes/kubeadmcfg.yaml of a master node.
//
// data is read as a YAML stream: of its documents, exactly one must have
// kind ClusterConfiguration (any apiVersion). From its etcd.local it reads
// dataDir and, in extraArgs, name, initial-cluster and
// initial-advertise-peer-urls (required), listen-client-urls,
// advertise-client-urls and initial-cluster-state (optional). extraArgs may
// be a mapping (kubeadm v1beta2, v1beta3) or a list of {name, value}
// (v1beta4); in the list form a required argument given twice is an error.
//
// Errors wrap ErrMalformed (YAML syntax, with the line; wrong types; two
// ClusterConfiguration documents; both etcd.local and etcd.external; input
// larger than MaxConfigSize), ErrNoClusterConfiguration, ErrExternalEtcd
// (given /etc/cray/kubernetes/kubeadm.yaml by mistake), ErrMissingField
// (naming the field path) or ErrBadInitialCluster.
func ParseKubeadmConfig(data []byte) (EtcdMember, error) {
	if len(data) > MaxConfigSize {
		return EtcdMember{}, fmt.Errorf("%w: %d bytes is more than %d: not a kubeadm configuration", ErrMalformed, len(data), MaxConfigSize)
	}
	docs, err := yamlDocuments(data)
	if err != nil {
		return EtcdMember{}, err
	}
	var (
		cc    *yaml.Node
		ccNum int
		kinds []string
	)
	for i, d := range docs {
		kind := scalarValue(mappingValue(d, "kind"))
		if kind == "" {
			continue
		}
		if !slices.Contains(kinds, kind) {
			kinds = append(kinds, kind)
		}
		if kind != "ClusterConfiguration" {
			continue
		}
		if cc != nil {
			return EtcdMember{}, fmt.Errorf("%w: two ClusterConfiguration documents (documents %d and %d)", ErrMalformed, ccNum, i+1)
		}
		cc, ccNum = d, i+1
	}
	if cc == nil {
		if len(kinds) == 0 {
			return EtcdMember{}, fmt.Errorf("%w: %d YAML document(s), none with a kind", ErrNoClusterConfiguration, len(docs))
		}
		return EtcdMember{}, fmt.Errorf("%w: found kinds %s", ErrNoClusterConfiguration, clip(strings.Join(kinds, ", ")))
	}
	return parseClusterConfiguration(cc)
}

// clusterConfiguration is the part of a kubeadm ClusterConfiguration read here.
type clusterConfiguration struct {
	APIVersion string `yaml:"apiVersion"`
	Etcd       struct {
		Local    yaml.Node `yaml:"local"`
		External yaml.Node `yaml:"external"`
	} `yaml:"etcd"`
}

// localEtcd is etcd.local of a ClusterConfiguration.
type localEtcd struct {
	DataDir   string    `yaml:"dataDir"`
	ExtraArgs yaml.Node `yaml:"extraArgs"`
}

// extraArg is one entry of the v1beta4 list form of extraArgs.
type extraArg struct {
	Name  string `yaml:"name"`
	Value string `yaml:"value"`
}

func parseClusterConfiguration(doc *yaml.Node) (EtcdMember, error) {
	// Friendly messages for the likeliest shape errors; decodeNode below
	// reports the others (and duplicate keys) in the YAML library's words.
	etcd := mappingValue(doc, "etcd")
	if !absent(etcd) && etcd.Kind != yaml.MappingNode {
		return EtcdMember{}, fmt.Errorf("%w: etcd (line %d) must be a mapping, not %s", ErrMalformed, etcd.Line, describeNode(etcd))
	}
	for _, k := range []string{"local", "external"} {
		if n := mappingValue(etcd, k); !absent(n) && n.Kind != yaml.MappingNode {
			return EtcdMember{}, fmt.Errorf("%w: etcd.%s (line %d) must be a mapping, not %s", ErrMalformed, k, n.Line, describeNode(n))
		}
	}
	var cc clusterConfiguration
	if err := decodeNode(doc, &cc); err != nil {
		return EtcdMember{}, fmt.Errorf("%w: ClusterConfiguration: %w", ErrMalformed, yamlError{err})
	}
	local, external := &cc.Etcd.Local, &cc.Etcd.External
	switch {
	case !absent(local) && !absent(external):
		return EtcdMember{}, fmt.Errorf("%w: ClusterConfiguration has both etcd.local (line %d) and etcd.external (line %d)", ErrMalformed, local.Line, external.Line)
	case !absent(external):
		eps := scalarValues(mappingValue(external, "endpoints"))
		return EtcdMember{}, fmt.Errorf("%w: ClusterConfiguration has etcd.external (endpoints %s, line %d) and no etcd.local: "+
			"this looks like /etc/cray/kubernetes/kubeadm.yaml; the local etcd member is described in /etc/kubernetes/kubeadmcfg.yaml",
			ErrExternalEtcd, "["+strings.Join(eps, " ")+"]", external.Line)
	case absent(local):
		return EtcdMember{}, fmt.Errorf("%w: etcd.local", ErrMissingField)
	}
	var le localEtcd
	if err := decodeNode(local, &le); err != nil {
		return EtcdMember{}, fmt.Errorf("%w: etcd.local: %w", ErrMalformed, yamlError{err})
	}
	args, err := extraArgs(&le.ExtraArgs, local.Line)
	if err != nil {
		return EtcdMember{}, err
	}
	m := EtcdMember{
		APIVersion:               strings.TrimSpace(cc.APIVersion),
		DataDir:                  strings.TrimSpace(le.DataDir),
		Name:                     args["name"],
		InitialClusterRaw:        args["initial-cluster"],
		InitialAdvertisePeerURLs: args["initial-advertise-peer-urls"],
		ListenClientURLs:         args["listen-client-urls"],
		AdvertiseClientURLs:      args["advertise-client-urls"],
		InitialClusterState:      args["initial-cluster-state"],
	}
	line := le.ExtraArgs.Line
	for _, f := range []struct{ path, v string }{
		{FieldName, m.Name},
		{FieldInitialCluster, m.InitialClusterRaw},
		{FieldInitialAdvertisePeerURLs, m.InitialAdvertisePeerURLs},
	} {
		if f.v == "" {
			return EtcdMember{}, fmt.Errorf("%w: %s (etcd.local.extraArgs at line %d)", ErrMissingField, f.path, line)
		}
	}
	if strings.IndexFunc(m.Name, isSpace) >= 0 {
		return EtcdMember{}, fmt.Errorf("%w: %s %q contains whitespace", ErrMalformed, FieldName, clip(m.Name))
	}
	if m.InitialCluster, err = ParseInitialCluster(m.InitialClusterRaw); err != nil {
		return EtcdMember{}, fmt.Errorf("%s: %w", FieldInitialCluster, err)
	}
	for _, u := range m.PeerURLs() {
		if err := ValidatePeerURL(u); err != nil {
			return EtcdMember{}, fmt.Errorf("%w: %s: %w", ErrMalformed, FieldInitialAdvertisePeerURLs, err)
		}
	}
	return m, nil
}

// wantedArgs are the extraArgs keys ParseKubeadmConfig reads.
var wantedArgs = map[string]bool{
	"name":                        true,
	"initial-cluster":             true,
	"initial-advertise-peer-urls": true,
	"listen-client-urls":          true,
	"advertise-client-urls":       true,
	"initial-cluster-state":       true,
}

// extraArgs returns the wanted arguments of etcd.local.extraArgs, values
// trimmed, from either form. localLine is where etcd.local starts.
func extraArgs(n *yaml.Node, localLine int) (map[string]string, error) {
	const path = "etcd.local.extraArgs"
	if absent(n) {
		return nil, fmt.Errorf("%w: %s (etcd.local at line %d)", ErrMissingField, path, localLine)
	}
	args := make(map[string]string, len(wantedArgs))
	switch r := resolve(n); r.Kind {
	case yaml.MappingNode:
		var m map[string]string
		if err := decodeNode(r, &m); err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrMalformed, path, yamlError{err})
		}
		for k, v := range m {
			if wantedArgs[k] {
				args[k] = strings.TrimSpace(v)
			}
		}
	case yaml.SequenceNode:
		seen := make(map[string]int)
		for i, item := range r.Content {
			var a extraArg
			if err := decodeNode(item, &a); err != nil {
				return nil, fmt.Errorf("%w: %s[%d]: %w", ErrMalformed, path, i, yamlError{err})
			}
			if a.Name == "" {
				return nil, fmt.Errorf("%w: %s[%d] (line %d) has no name", ErrMalformed, path, i, item.Line)
			}
			if !wantedArgs[a.Name] {
				continue
			}
			if prev, dup := seen[a.Name]; dup {
				return nil, fmt.Errorf("%w: %s: argument %q given twice (lines %d and %d)", ErrMalformed, path, clip(a.Name), prev, item.Line)
			}
			seen[a.Name] = item.Line
			args[a.Name] = strings.TrimSpace(a.Value)
		}
	default:
		return nil, fmt.Errorf("%w: %s (line %d) must be a mapping (kubeadm v1beta2/v1beta3) or a list of {name, value} (v1beta4), not %s",
			ErrMalformed, path, r.Line, describeNode(r))
	}
	return args, nil
}

// yamlDocuments splits data into its YAML documents. A syntax error anywhere
// fails the whole stream.
func yamlDocuments(data []byte) (docs []*yaml.Node, err error) {
	defer func() {
		if r := recover(); r != nil {
			docs, err = nil, fmt.Errorf("%w: YAML parser failed: %v", ErrMalformed, r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for i := 1; ; i++ {
		var n yaml.Node
		if err := dec.Decode(&n); err != nil {
			if errors.Is(err, io.EOF) {
				return docs, nil
			}
			return nil, fmt.Errorf("%w: YAML document %d: %w", ErrMalformed, i, yamlError{err})
		}
		docs = append(docs, &n)
	}
}

// decodeNode is n.Decode(v) with the YAML library's panics turned into errors.
func decodeNode(n *yaml.Node, v any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("YAML decoder failed: %v", r)
		}
	}()
	return n.Decode(v)
}

// yamlError wraps an error of the YAML library: its text is on one line,
// without the "yaml: " prefix, and errors.As still finds *yaml.TypeError.
type yamlError struct{ err error }

func (e yamlError) Error() string {
	var te *yaml.TypeError
	if errors.As(e.err, &te) {
		return strings.Join(te.Errors, "; ")
	}
	return strings.TrimPrefix(e.err.Error(), "yaml: ")
}

func (e yamlError) Unwrap() error { return e.err }

// resolve follows document and alias nodes to the node holding the value.
func resolve(n *yaml.Node) *yaml.Node {
	for range 64 {
		if n == nil {
			return nil
		}
		switch n.Kind {
		case yaml.DocumentNode:
			if len(n.Content) == 0 {
				return nil
			}
			n = n.Content[0]
		case yaml.AliasNode:
			n = n.Alias
		default:
			return n
		}
	}
	return nil
}

// absent reports whether a decoded field is missing or null.
func absent(n *yaml.Node) bool {
	r := resolve(n)
	return r == nil || r.Kind == 0 || (r.Kind == yaml.ScalarNode && r.ShortTag() == "!!null")
}

// mappingValue returns the value of key in mapping n, or nil.
func mappingValue(n *yaml.Node, key string) *yaml.Node {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := resolve(n.Content[i]); k != nil && k.Kind == yaml.ScalarNode && k.Value == key {
			return resolve(n.Content[i+1])
		}
	}
	return nil
}

// scalarValue returns n's value, trimmed, if n is a scalar, else "".
func scalarValue(n *yaml.Node) string {
	if n = resolve(n); n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return strings.TrimSpace(n.Value)
}

// scalarValues returns the scalar values of a scalar or a sequence node.
func scalarValues(n *yaml.Node) []string {
	n = resolve(n)
	if n == nil {
		return nil
	}
	if n.Kind == yaml.ScalarNode {
		return []string{strings.TrimSpace(n.Value)}
	}
	var vs []string
	if n.Kind == yaml.SequenceNode {
		for _, c := range n.Content {
			if v := scalarValue(c); v != "" {
				vs = append(vs, v)
			}
		}
	}
	return vs
}

func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.ScalarNode:
		return fmt.Sprintf("the scalar %s %q", n.ShortTag(), clip(n.Value))
	case yaml.SequenceNode:
		return "a sequence"
	case yaml.MappingNode:
		return "a mapping"
	}
	return "nothing"
}
