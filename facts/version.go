package facts

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Version is an etcd release version, major.minor.patch.
type Version struct {
	// Major is the major version: 3 for every etcd this tool supports.
	Major int
	// Minor is the minor version: 4, 5 or 6.
	Minor int
	// Patch is the patch version.
	Patch int
	// PreRelease is the suffix after the patch number without its leading
	// "-" or "+" (for example "rc.1" in 3.6.0-rc.1), or empty for a release.
	PreRelease string
}

// String returns "3.5.21", or "3.6.0-rc.1" for a pre-release.
func (v Version) String() string {
	s := fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)
	if v.PreRelease != "" {
		s += "-" + v.PreRelease
	}
	return s
}

// IsZero reports whether v is the zero Version (unknown).
func (v Version) IsZero() bool { return v == Version{} }

// MajorMinor returns "3.5".
func (v Version) MajorMinor() string { return fmt.Sprintf("%d.%d", v.Major, v.Minor) }

// SameMinor reports whether v and o have the same major and minor versions.
func (v Version) SameMinor(o Version) bool { return v.Major == o.Major && v.Minor == o.Minor }

// AtLeast reports whether v is major.minor.patch or later. PreRelease is
// ignored: 3.5.10-rc.0 counts as 3.5.10.
func (v Version) AtLeast(major, minor, patch int) bool {
	if v.Major != major {
		return v.Major > major
	}
	if v.Minor != minor {
		return v.Minor > minor
	}
	return v.Patch >= patch
}

// versionLine matches the line naming the binary's version in the output of
// `etcd --version` ("etcd Version: 3.5.21"), `etcdctl version`
// ("etcdctl version: 3.4.23") and `etcdutl version` ("etcdutl version: 3.6.5").
// "API version:" and "Go Version:" lines do not match.
var versionLine = regexp.MustCompile(`(?i)^\s*(?:etcd|etcdctl|etcdutl)\s+version:\s*v?(\d{1,9})\.(\d{1,9})\.(\d{1,9})(?:[-+]([0-9A-Za-z.+-]*))?\s*$`)

// ParseEtcdVersion returns the version in the output of `etcd --version`,
// `etcdctl version` or `etcdutl version` (etcd 3.4 to 3.6), for example
//
//	etcd Version: 3.5.21
//	Git SHA: a17edfd
//	Go Version: go1.23.7
//	Go OS/Arch: linux/amd64
//
// The first "<binary> version:" line counts (any case); other lines, such as
// "API version: 3.5" or log lines printed before, are ignored. Errors wrap
// ErrBadVersion.
func ParseEtcdVersion(out string) (Version, error) {
	for line := range strings.Lines(out) {
		m := versionLine.FindStringSubmatch(strings.TrimRight(line, "\r\n"))
		if m == nil {
			continue
		}
		var v Version
		var err error
		for i, p := range []*int{&v.Major, &v.Minor, &v.Patch} {
			if *p, err = strconv.Atoi(m[i+1]); err != nil {
				return Version{}, fmt.Errorf("%w: %q: %w", ErrBadVersion, clip(strings.TrimSpace(line)), err)
			}
		}
		v.PreRelease = m[4]
		return v, nil
	}
	return Version{}, fmt.Errorf("%w: no \"etcd Version:\", \"etcdctl version:\" or \"etcdutl version:\" line in %q", ErrBadVersion, clip(strings.TrimSpace(out)))
}

// Tool is the program that restores a snapshot into a member directory.
// Its value is the program's name, ready for a template.
type Tool string

// Restore tools.
const (
	// ToolNone: no usable restore tool.
	ToolNone Tool = ""
	// ToolEtcdutl: `etcdutl snapshot restore` (etcd 3.5 and later).
	ToolEtcdutl Tool = "etcdutl"
	// ToolEtcdctl: `etcdctl snapshot restore` (etcd 3.4 and 3.5; deprecated
	// in 3.5, removed in 3.6).
	ToolEtcdctl Tool = "etcdctl"
)

// RestoreTool chooses the snapshot restore tool for a node whose etcd is v:
//
//   - etcd 3.4: etcdctl (etcdutl does not exist in 3.4);
//   - etcd 3.5: etcdutl if present, else etcdctl (deprecated there, but
//     it still works);
//   - etcd 3.6 and later 3.x: etcdutl, required, since `etcdctl snapshot
//     restore` is gone: without it the error wraps ErrNoRestoreTool.
//
// Other versions (older than 3.4, major not 3, zero) wrap ErrUnsupportedVersion.
// RestoreTool does not know whether etcdctl is installed; ParseNodeReport does.
func RestoreTool(v Version, etcdutlPresent bool) (Tool, error) {
	switch {
	case v.IsZero():
		return ToolNone, fmt.Errorf("%w: unknown etcd version", ErrUnsupportedVersion)
	case v.Major != 3 || v.Minor < 4:
		return ToolNone, fmt.Errorf("%w: etcd %s: only etcd 3.4 and later 3.x releases are supported", ErrUnsupportedVersion, v)
	case v.Minor == 4:
		return ToolEtcdctl, nil
	case v.Minor == 5:
		if etcdutlPresent {
			return ToolEtcdutl, nil
		}
		return ToolEtcdctl, nil
	case etcdutlPresent:
		return ToolEtcdutl, nil
	default:
		return ToolNone, fmt.Errorf("%w: etcd %s needs etcdutl (etcdctl snapshot restore was removed in 3.6) and etcdutl is not installed", ErrNoRestoreTool, v)
	}
}

// SupportsBumpRevision reports whether tool, at version v (the tool's own
// version), has the `snapshot restore` flags --bump-revision and
// --mark-compacted. They arrived in etcd 3.5.10 in both etcdutl and etcdctl
// (etcd PR 16165); etcdctl lost `snapshot restore` in 3.6. So: etcdutl
// 3.5.10 or later 3.x; etcdctl 3.5.10 to 3.5.x; never on 3.4.
//
// The flags change the restored revisions, so a restore must pass them to
// every member or to none: see AllSupportBumpRevision.
func SupportsBumpRevision(v Version, tool Tool) bool {
	if v.Major != 3 || !v.AtLeast(3, 5, 10) {
		return false
	}
	switch tool {
	case ToolEtcdutl:
		return true
	case ToolEtcdctl:
		return v.Minor == 5
	}
	return false
}
