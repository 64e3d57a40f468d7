package inventory

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestSelect(t *testing.T) {
	inv, err := Load(filepath.Join("testdata", "csm.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var (
		m   = []string{"ncn-m001", "ncn-m002", "ncn-m003"}
		w   = []string{"ncn-w001", "ncn-w002", "ncn-w003"}
		s   = []string{"ncn-s001", "ncn-s002", "ncn-s003"}
		all = slices.Concat(m, w, s)
	)
	tests := []struct {
		pattern string
		want    []string
		err     error  // expected sentinel, instead of want
		msg     string // substring of the error message
	}{
		{pattern: "all", want: all},
		{pattern: "*", want: all},
		{pattern: "masters", want: m},
		{pattern: "kubernetes", want: slices.Concat(m, w)},
		{pattern: "ncn-w002", want: []string{"ncn-w002"}},
		{pattern: " masters ", want: m},

		// Globs and regular expressions match group and host names.
		{pattern: "ncn-m00*", want: m},
		{pattern: "ncn-?00[12]", want: []string{"ncn-m001", "ncn-m002", "ncn-w001", "ncn-w002", "ncn-s001", "ncn-s002"}},
		{pattern: "ncn-s00[!1]", want: []string{"ncn-s002", "ncn-s003"}},
		{pattern: "*_mons", want: s},
		{pattern: "mast*", want: m},
		{pattern: "~ncn-(m|w)00[13]", want: []string{"ncn-m001", "ncn-m003", "ncn-w001", "ncn-w003"}},
		{pattern: "~stor", want: s}, // anchored at the start only, like re.match
		{pattern: "~.*03$", want: []string{"ncn-m003", "ncn-w003", "ncn-s003"}},

		// Ranges, as in inventory files.
		{pattern: "ncn-m00[1:2]", want: []string{"ncn-m001", "ncn-m002"}},
		{pattern: "ncn-[r:s]00[2:3]", want: []string{"ncn-s002", "ncn-s003"}},
		{pattern: "ncn-w[001:003:2]", want: []string{"ncn-w001", "ncn-w003"}},
		{pattern: "ncn-m00[1:9]", want: m}, // names that do not exist are skipped

		// Unions, intersections, exclusions, in inventory order, deduplicated.
		{pattern: "storage,masters", want: slices.Concat(m, s)},
		{pattern: "storage:masters", want: slices.Concat(m, s)},
		{pattern: "masters,ncn-m001,masters", want: m},
		{pattern: "kubernetes:&workers", want: w},
		{pattern: "kubernetes,&ncn-?002", want: []string{"ncn-m002", "ncn-w002"}},
		{pattern: "all:!masters", want: slices.Concat(w, s)},
		{pattern: "!masters", want: slices.Concat(w, s)}, // only exclusions: from all
		{pattern: "&storage", want: s},
		{pattern: "!ncn-s002:storage", want: []string{"ncn-s001", "ncn-s003"}}, // order of terms does not matter
		{pattern: "ncn:!storage:&~.*00[12]:!ncn-w001", want: []string{"ncn-m001", "ncn-m002", "ncn-w002"}},

		// Subscripts count the matched hosts in inventory order, inclusively.
		{pattern: "masters[0]", want: []string{"ncn-m001"}},
		{pattern: "masters[-1]", want: []string{"ncn-m003"}},
		{pattern: "masters[0:1]", want: []string{"ncn-m001", "ncn-m002"}},
		{pattern: "masters[1:]", want: []string{"ncn-m002", "ncn-m003"}},
		{pattern: "kubernetes[2:3]", want: []string{"ncn-m003", "ncn-w001"}},
		{pattern: "ncn-s*[1]", want: []string{"ncn-s002"}},
		{pattern: "masters[1:],workers[0]", want: []string{"ncn-m002", "ncn-m003", "ncn-w001"}},
		{pattern: "all:!masters[0]", want: all[1:]},
		{pattern: "masters[1:5]", want: []string{"ncn-m002", "ncn-m003"}},

		// No match.
		{pattern: "masters[3]", err: ErrNoMatch, msg: `no host matches "masters[3]" in testdata/csm.yaml`},
		{pattern: "masters[-4]", err: ErrNoMatch},
		{pattern: "masters[2:1]", err: ErrNoMatch},
		{pattern: "masters[99999999999999999999]", err: ErrNoMatch},
		{pattern: "master", err: ErrNoMatch, msg: `"master" matches no group or host name (did you mean "masters"?)`},
		{pattern: "ncn-x*", err: ErrNoMatch, msg: `no host matches "ncn-x*"`},
		{pattern: "~^zz", err: ErrNoMatch},
		{pattern: "ncn-m00[4:5]", err: ErrNoMatch},
		{pattern: "masters:&storage", err: ErrNoMatch, msg: `no host matches "masters:&storage" in testdata/csm.yaml`},
		{pattern: "masters:!ncn-m00*", err: ErrNoMatch},
		{pattern: "masters,typo", err: ErrNoMatch, msg: `"typo" matches no group or host name`},
		{pattern: "all:!mastres", err: ErrNoMatch, msg: `"mastres" matches no group or host name (did you mean "masters"?)`},
		{pattern: "ungrouped", err: ErrNoMatch, msg: `no host matches "ungrouped"`}, // exists, empty

		// Bad patterns.
		{pattern: "", err: ErrBadPattern, msg: "empty pattern"},
		{pattern: " ,  , ", err: ErrBadPattern, msg: "empty pattern"},
		{pattern: "!", err: ErrBadPattern, msg: `"!" must be followed by a group or host`},
		{pattern: "masters,&", err: ErrBadPattern},
		{pattern: "!!masters", err: ErrBadPattern},
		{pattern: "~(", err: ErrBadPattern, msg: "invalid regular expression"},
		{pattern: "~a)|(b", err: ErrBadPattern},
		{pattern: "ncn-m[3:1]", err: ErrBadPattern, msg: "begins after its end"},
		{pattern: "ncn-m[1:2", err: ErrBadPattern, msg: "unclosed ["},
		{pattern: "ncn-m[0:99999999]", err: ErrBadPattern, msg: "more than"},
		{pattern: "ncn-[z-a]", err: ErrBadPattern, msg: "invalid glob"},
		{pattern: "masters workers", err: ErrBadPattern, msg: "contains spaces"},
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) {
			hosts, err := inv.Select(tt.pattern)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("Select = %v, %v; want error %v", hostNamesOf(hosts), err, tt.err)
				}
				if !strings.Contains(err.Error(), tt.msg) {
					t.Errorf("error %q does not contain %q", err, tt.msg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := hostNamesOf(hosts); !slices.Equal(got, tt.want) {
				t.Errorf("Select = %v, want %v", got, tt.want)
			}
			for _, h := range hosts {
				if same, _ := inv.Host(h.Name); same != h {
					t.Errorf("Select returned a copy of %s, not the inventory's host", h.Name)
				}
			}
		})
	}
}

// TestSelectSpecialNames covers IPv6 host names (colons are not separators)
// and hosts and groups that only the subscript or the range reading can reach.
func TestSelectSpecialNames(t *testing.T) {
	inv, err := Parse("hosts.ini", []byte("fe80::1\n[g]\nh1\nh2\n[web]\nweb01\nweb02\n"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		pattern string
		want    []string
	}{
		{"fe80::1", []string{"fe80::1"}},
		{"fe80::1,h1", []string{"fe80::1", "h1"}},
		{"web[0]", []string{"web01"}},             // subscript of the group web
		{"web0[1:2]", []string{"web01", "web02"}}, // web0 names nothing: a range
		{"h[1:2]", []string{"h1", "h2"}},
		{"ungrouped", []string{"fe80::1"}},
	}
	for _, tt := range tests {
		hosts, err := inv.Select(tt.pattern)
		if err != nil {
			t.Errorf("Select(%q): %v", tt.pattern, err)
			continue
		}
		if got := hostNamesOf(hosts); !slices.Equal(got, tt.want) {
			t.Errorf("Select(%q) = %v, want %v", tt.pattern, got, tt.want)
		}
	}
}

func TestGlobRegexp(t *testing.T) {
	tests := []struct {
		glob  string
		match []string
		miss  []string
	}{
		{"a*", []string{"a", "abc", "a.b"}, []string{"ba"}},
		{"a?c", []string{"abc", "a.c"}, []string{"ac", "abbc"}},
		{"a.c", []string{"a.c"}, []string{"abc"}},
		{"[ab]1", []string{"a1", "b1"}, []string{"c1"}},
		{"[!ab]1", []string{"c1"}, []string{"a1"}},
		{"[]]x", []string{"]x"}, []string{"ax"}},
		{"[^a]", []string{"^", "a"}, []string{"b"}},
		{`[\]`, []string{`\`}, []string{"x"}},
		{"a[", []string{"a["}, []string{"a"}},
		{"+(x)", []string{"+(x)"}, []string{"x"}},
	}
	for _, tt := range tests {
		re, err := globRegexp(tt.glob)
		if err != nil {
			t.Errorf("globRegexp(%q): %v", tt.glob, err)
			continue
		}
		for _, s := range tt.match {
			if !re.MatchString(s) {
				t.Errorf("glob %q does not match %q (regexp %s)", tt.glob, s, re)
			}
		}
		for _, s := range tt.miss {
			if re.MatchString(s) {
				t.Errorf("glob %q matches %q (regexp %s)", tt.glob, s, re)
			}
		}
	}
}
