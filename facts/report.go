package facts

import (
	"fmt"
	"regexp"
	"strings"
)

// Section names of the node report.
const (
	// SectionKubeadmCfg holds /etc/kubernetes/kubeadmcfg.yaml.
	SectionKubeadmCfg = "kubeadmcfg"
	// SectionEtcdVersion holds the output of `etcd --version`.
	SectionEtcdVersion = "etcd-version"
	// SectionEtcdutlVersion holds the output of `etcdutl version`, or Missing.
	SectionEtcdutlVersion = "etcdutl-version"
	// SectionEtcdctlVersion holds the output of `etcdctl version`, or Missing.
	SectionEtcdctlVersion = "etcdctl-version"
	// SectionDFStaging holds `LC_ALL=C df -P -B1 STAGING_DIR`.
	SectionDFStaging = "df-staging"
	// SectionDFData holds `LC_ALL=C df -P -B1 DATA_DIR`.
	SectionDFData = "df-data"
	// SectionEtcdActive holds the output of `systemctl is-active etcd`.
	SectionEtcdActive = "etcd-active"
	// SectionLock (optional) names the holder of the ncnpush lock, or "none".
	SectionLock = "lock"
)

// Missing is what a tool-version section holds when the tool is not installed.
const Missing = "missing"

// EndMarker is the last line of a complete node report.
const EndMarker = "@@ncnpush:end@@"

// markerPrefix and markerSuffix surround a section name in a marker line.
const (
	markerPrefix = "@@ncnpush:section "
	markerSuffix = "@@"
)

// sectionName is the syntax of a section name.
var sectionName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

// SectionMarker returns the marker line (without its newline) that starts
// section name in a node report: "@@ncnpush:section " + name + "@@". name
// must match [a-z0-9][a-z0-9-]*, or the parser will not see the marker.
// The report format is described at ParseNodeReport.
func SectionMarker(name string) string { return markerPrefix + name + markerSuffix }

// RequiredSections returns the names of the sections a node report must have.
func RequiredSections() []string {
	return []string{
		SectionKubeadmCfg, SectionEtcdVersion, SectionEtcdutlVersion, SectionEtcdctlVersion,
		SectionDFStaging, SectionDFData, SectionEtcdActive,
	}
}

// Node is what the preflight learnt about one master node.
type Node struct {
	// Host is the inventory host the report came from.
	Host string
	// Member is the node's etcd member, from /etc/kubernetes/kubeadmcfg.yaml.
	Member EtcdMember
	// Version is the version of the etcd server binary (`etcd --version`).
	Version Version
	// EtcdutlPresent reports whether etcdutl is installed.
	EtcdutlPresent bool
	// EtcdutlVersion is etcdutl's version; zero when not installed.
	EtcdutlVersion Version
	// EtcdctlPresent reports whether etcdctl is installed.
	EtcdctlPresent bool
	// EtcdctlVersion is etcdctl's version; zero when not installed.
	EtcdctlVersion Version
	// RestoreTool is the snapshot restore tool to use on this node (see
	// RestoreTool), or ToolNone when there is none; then RestoreToolErr says why.
	RestoreTool Tool
	// RestoreToolErr is why RestoreTool is ToolNone; it wraps
	// ErrNoRestoreTool or ErrUnsupportedVersion. Nil when there is a tool.
	RestoreToolErr error
	// BumpRevision reports whether RestoreTool, at its own version, has
	// --bump-revision and --mark-compacted (see SupportsBumpRevision).
	BumpRevision bool
	// StagingMount is the mount point holding the staging directory.
	StagingMount string
	// FreeStaging is the space available in the staging directory, in bytes.
	FreeStaging uint64
	// DataMount is the mount point holding the etcd data directory.
	DataMount string
	// FreeData is the space available in the etcd data directory, in bytes.
	FreeData uint64
	// EtcdState is the output of `systemctl is-active etcd`, such as
	// "active" or "inactive".
	EtcdState string
	// EtcdActive reports whether EtcdState is "active".
	EtcdActive bool
	// Lock describes who holds the ncnpush lock on the node; empty when the
	// lock is free or the report has no lock section. Check ignores it: only
	// the caller knows whether the holder is itself.
	Lock string
}

// ToolVersion returns the version of RestoreTool, or the zero Version.
func (n Node) ToolVersion() Version {
	switch n.RestoreTool {
	case ToolEtcdutl:
		return n.EtcdutlVersion
	case ToolEtcdctl:
		return n.EtcdctlVersion
	}
	return Version{}
}

// SplitSections splits a node report into its sections (format in
// ParseNodeReport), by name; unknown names are kept. Errors wrap
// ErrBadReport: no end marker, or a section given twice.
func SplitSections(out string) (map[string]string, error) {
	sections := make(map[string]string)
	var (
		cur   string
		body  strings.Builder
		inSec bool
		ended bool
	)
	flush := func() error {
		if !inSec {
			return nil
		}
		if _, dup := sections[cur]; dup {
			return fmt.Errorf("%w: section %q appears twice", ErrBadReport, clip(cur))
		}
		sections[cur] = body.String()
		body.Reset()
		return nil
	}
	for line := range strings.Lines(out) {
		bare := strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
		if bare == EndMarker {
			ended = true
			break
		}
		if name, ok := strings.CutPrefix(bare, markerPrefix); ok {
			if name, ok = strings.CutSuffix(name, markerSuffix); ok && sectionName.MatchString(name) {
				if err := flush(); err != nil {
					return nil, err
				}
				cur, inSec = name, true
				continue
			}
		}
		if inSec {
			body.WriteString(line)
		}
	}
	if !ended {
		return nil, fmt.Errorf("%w: no end marker %q: the report is truncated", ErrBadReport, EndMarker)
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return sections, nil
}

// ParseNodeReport parses the report the preflight template printed on host
// (format below) into a Node. A missing required section is an error
// (ErrBadReport), so is a section that does not parse (the error wraps the
// parser's sentinel, such as ErrMalformed or ErrBadVersion). A node without
// a usable restore tool is not an error here: RestoreToolErr records why,
// and Check reports it along with every other failure. Every error names
// host and, where one is at fault, the section.
//
// # Report format
//
// The preflight template prints, on each master node, a report made of
// sections. Each section starts with a marker line and runs to the next
// marker line:
//
//	@@ncnpush:section NAME@@
//	...content: every line up to the next marker...
//	@@ncnpush:end@@
//
// Precisely:
//
//   - A marker line is exactly SectionMarker(NAME), "@@ncnpush:section " +
//     NAME + "@@", at the start of a line and alone on it (a trailing "\r"
//     is dropped). NAME matches [a-z0-9][a-z0-9-]*.
//   - The report ends with the line EndMarker, "@@ncnpush:end@@". Without it
//     the report is truncated (the script stopped early) and is rejected.
//     Everything after it is ignored.
//   - A section's content is every line between its marker line and the
//     next marker line, each with its "\n". Print a newline before every
//     marker, as in printf '\n%s\n' MARKER, so that output without a final
//     newline (a file, `cat`ed) cannot hide the marker: the extra blank line
//     is harmless to every parser here.
//   - Text before the first marker (a login banner) is ignored, so are
//     sections with names this package does not know. A section given twice
//     is an error.
//
// The sections, all required unless said otherwise:
//
//   - kubeadmcfg (SectionKubeadmCfg): `cat /etc/kubernetes/kubeadmcfg.yaml`.
//   - etcd-version (SectionEtcdVersion): `etcd --version` (the server
//     binary, /usr/bin/etcd).
//   - etcdutl-version (SectionEtcdutlVersion): `etcdutl version`, or the
//     single word "missing" (Missing) when etcdutl is not installed.
//   - etcdctl-version (SectionEtcdctlVersion): `ETCDCTL_API=3 etcdctl
//     version`, or "missing".
//   - df-staging (SectionDFStaging): `LC_ALL=C df -P -B1 STAGING_DIR`: one
//     path, the directory the snapshot is downloaded and restored into.
//   - df-data (SectionDFData): `LC_ALL=C df -P -B1 DATA_DIR`: one path, the
//     etcd data directory (/var/lib/etcd).
//   - etcd-active (SectionEtcdActive): `systemctl is-active etcd || true`:
//     one word, "active", "inactive", "failed", "activating"...
//   - lock (SectionLock), optional: who holds the ncnpush lock on the node
//     (any text), or "none" (or nothing) when it is free.
//
// A template can print a tool that may be missing as
//
//	if command -v etcdutl >/dev/null; then etcdutl version; else echo missing; fi
func ParseNodeReport(host string, out string) (Node, error) {
	sections, err := SplitSections(out)
	if err != nil {
		return Node{}, fmt.Errorf("host %s: %w", host, err)
	}
	var missing []string
	for _, name := range RequiredSections() {
		if _, ok := sections[name]; !ok {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return Node{}, fmt.Errorf("host %s: %w: missing section(s) %s", host, ErrBadReport, strings.Join(missing, ", "))
	}
	n := Node{Host: host}
	fail := func(section string, err error) (Node, error) {
		return Node{}, fmt.Errorf("host %s: section %s: %w", host, section, err)
	}

	if n.Member, err = ParseKubeadmConfig([]byte(sections[SectionKubeadmCfg])); err != nil {
		return fail(SectionKubeadmCfg, err)
	}
	if n.Version, err = ParseEtcdVersion(sections[SectionEtcdVersion]); err != nil {
		return fail(SectionEtcdVersion, err)
	}
	if n.EtcdutlVersion, n.EtcdutlPresent, err = toolVersion(sections[SectionEtcdutlVersion]); err != nil {
		return fail(SectionEtcdutlVersion, err)
	}
	if n.EtcdctlVersion, n.EtcdctlPresent, err = toolVersion(sections[SectionEtcdctlVersion]); err != nil {
		return fail(SectionEtcdctlVersion, err)
	}
	n.RestoreTool, n.RestoreToolErr = RestoreTool(n.Version, n.EtcdutlPresent)
	if n.RestoreTool == ToolEtcdctl && !n.EtcdctlPresent {
		n.RestoreTool = ToolNone
		n.RestoreToolErr = fmt.Errorf("%w: etcd %s restores with etcdctl (etcdutl is not installed) and etcdctl is not installed either", ErrNoRestoreTool, n.Version)
	}
	n.BumpRevision = SupportsBumpRevision(n.ToolVersion(), n.RestoreTool)

	if n.StagingMount, n.FreeStaging, err = oneDF(sections[SectionDFStaging]); err != nil {
		return fail(SectionDFStaging, err)
	}
	if n.DataMount, n.FreeData, err = oneDF(sections[SectionDFData]); err != nil {
		return fail(SectionDFData, err)
	}

	n.EtcdState = firstWord(sections[SectionEtcdActive])
	if n.EtcdState == "" {
		return fail(SectionEtcdActive, fmt.Errorf("%w: empty: want the output of systemctl is-active etcd", ErrBadReport))
	}
	n.EtcdActive = n.EtcdState == "active"

	if lock := strings.TrimSpace(sections[SectionLock]); lock != "none" {
		n.Lock = lock
	}
	return n, nil
}

// toolVersion parses a tool-version section: Missing, or the tool's output.
func toolVersion(s string) (Version, bool, error) {
	if strings.TrimSpace(s) == Missing {
		return Version{}, false, nil
	}
	v, err := ParseEtcdVersion(s)
	if err != nil {
		return Version{}, false, fmt.Errorf("want the tool's version output or %q: %w", Missing, err)
	}
	return v, true, nil
}

// oneDF parses df output for exactly one path.
func oneDF(s string) (string, uint64, error) {
	rows, err := ParseDFRows(s)
	if err != nil {
		return "", 0, err
	}
	if len(rows) != 1 {
		return "", 0, fmt.Errorf("%w: %d data lines, want 1 (one path per df section)", ErrBadDF, len(rows))
	}
	return rows[0].MountedOn, rows[0].Available, nil
}

// firstWord returns the first whitespace-separated word of s.
func firstWord(s string) string {
	if f := strings.Fields(s); len(f) > 0 {
		return f[0]
	}
	return ""
}
