package inventory

import (
	"slices"
	"strings"
	"testing"
)

func TestExpandHostPattern(t *testing.T) {
	tests := []struct {
		in    string
		names []string
		port  string
		err   string // substring of the error, "" for success
	}{
		{in: "ncn-m001", names: []string{"ncn-m001"}},
		{in: "ncn-m00[1:3]", names: []string{"ncn-m001", "ncn-m002", "ncn-m003"}},
		{in: "ncn-m[001:003]", names: []string{"ncn-m001", "ncn-m002", "ncn-m003"}},
		{in: "w[1:10:2]", names: []string{"w1", "w3", "w5", "w7", "w9"}},
		{in: "w[8:12]", names: []string{"w8", "w9", "w10", "w11", "w12"}},
		{in: "w[:2]", names: []string{"w0", "w1", "w2"}},
		{in: "[a:c]", names: []string{"a", "b", "c"}},
		{in: "x[y:B]", names: []string{"xy", "xz", "xA", "xB"}},
		{in: "x[a:e:2]-y", names: []string{"xa-y", "xc-y", "xe-y"}},
		{in: "r[1:2]-[a:b]", names: []string{"r1-a", "r1-b", "r2-a", "r2-b"}},
		{in: "n[1:1]", names: []string{"n1"}},
		{in: "ncn-m001:2222", names: []string{"ncn-m001"}, port: "2222"},
		{in: "ncn-m00[1:2]:22", names: []string{"ncn-m001", "ncn-m002"}, port: "22"},
		{in: "10.0.0.1:22", names: []string{"10.0.0.1"}, port: "22"},
		{in: "fe80::1", names: []string{"fe80::1"}},
		{in: "[fe80::1]:22", names: []string{"fe80::1"}, port: "22"},
		{in: "n[3:1]", err: "begins after its end"},
		{in: "n[c:a]", err: "begins after its end"},
		{in: "n[1:2:0]", err: "step must be a positive number"},
		{in: "n[1:2:-1]", err: "step must be a positive number"},
		{in: "n[1:2:99999999999999999999]", err: "step must be a positive number"},
		{in: "n[1]", err: "must be [begin:end]"},
		{in: "n[1:2:3:4]", err: "must be [begin:end]"},
		{in: "n[1:]", err: "has no end"},
		{in: "n[01:100]", err: "same number of digits"},
		{in: "n[-1:2]", err: "must be numbers or single letters"},
		{in: "n[aa:b]", err: "must be numbers or single letters"},
		{in: "n[1:9999999999]", err: "must be numbers or single letters"},
		{in: "n[1:2", err: "unclosed ["},
		{in: "n]1", err: "unmatched ]"},
		{in: "n[1:2]]", err: "unmatched ]"},
		{in: "a:b:22", err: "too many colons"},
		{in: "a:", err: `port "" is not a number`},
		{in: "a:2x", err: `port "2x" is not a number`},
		{in: "[fe80::1]:x", err: `port "x" is not a number`},
	}
	for _, tt := range tests {
		names, port, err := expandHostPattern(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("expandHostPattern(%q) = %v, %q, %v; want error containing %q", tt.in, names, port, err, tt.err)
			}
			continue
		}
		if err != nil || !slices.Equal(names, tt.names) || port != tt.port {
			t.Errorf("expandHostPattern(%q) = %v, %q, %v; want %v, %q", tt.in, names, port, err, tt.names, tt.port)
		}
	}
}

func TestExpandRangesLimit(t *testing.T) {
	if names, err := expandRanges("n[1:10][1:10]", false, 100); err != nil || len(names) != 100 {
		t.Errorf("100 names within a limit of 100: %d names, %v", len(names), err)
	}
	if _, err := expandRanges("n[1:10][1:11]", false, 100); err == nil {
		t.Error("110 names within a limit of 100: no error")
	}
	// In pattern mode, brackets without a colon are glob classes, kept as is.
	names, err := expandRanges("n[ab][1:2]", true, 100)
	if want := []string{"n[ab]1", "n[ab]2"}; err != nil || !slices.Equal(names, want) {
		t.Errorf("pattern mode: %v, %v; want %v", names, err, want)
	}
}

func TestBadNames(t *testing.T) {
	for _, name := range []string{"", "a b", "a\tb", "a\x00", "a,b", "a:b", "a*", "a?", "!a", "a&b", "~a", "a[", "a]"} {
		if badHostName(name) == "" {
			t.Errorf("host name %q accepted", name)
		}
		if badGroupName(name) == "" {
			t.Errorf("group name %q accepted", name)
		}
	}
	for _, name := range []string{"ncn-m001", "ncn-m001.nmn", "10.0.0.1", "host_1", "ホスト"} {
		if why := badHostName(name); why != "" {
			t.Errorf("host name %q rejected: %s", name, why)
		}
	}
	if badHostName("fe80::1") != "" || badGroupName("fe80::1") == "" {
		t.Error("IPv6 addresses are host names, not group names")
	}
}

func TestShellSplit(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		err  string
	}{
		{in: "a b=c", want: []string{"a", "b=c"}},
		{in: "  a \t b  ", want: []string{"a", "b"}},
		{in: `a x="y z" q='s "t"'`, want: []string{"a", "x=y z", `q=s "t"`}},
		{in: `a x="say \"hi\" \\ \n"`, want: []string{"a", `x=say "hi" \ \n`}},
		{in: `a x=y\ z \"q`, want: []string{"a", "x=y z", `"q`}},
		{in: `a b#c d`, want: []string{"a", "b"}},
		{in: `a # c`, want: []string{"a"}},
		{in: `a x="#"`, want: []string{"a", "x=#"}},
		{in: `a x=""`, want: []string{"a", "x="}},
		{in: `""`, want: []string{""}},
		{in: "# only", want: nil},
		{in: `a "b`, err: "unclosed double quote"},
		{in: `a 'b`, err: "unclosed single quote"},
		{in: `a b\`, err: "backslash at end of line"},
	}
	for _, tt := range tests {
		got, err := shellSplit(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("shellSplit(%q) = %q, %v; want error %q", tt.in, got, err, tt.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("shellSplit(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestINIValue(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{`"double"`, "double"},
		{`'single'`, "single"},
		{`"a\"b\\c\n\t\x"`, "a\"b\\c\n\t\\x"},
		{`'it\'s'`, "it's"},
		{`"unbalanced'`, `"unbalanced'`},
		{`"`, `"`},
		{`""`, ""},
		{`["a", "b"]`, `["a", "b"]`},
	}
	for _, tt := range tests {
		if got := iniValue(tt.in); got != tt.want {
			t.Errorf("iniValue(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSuggest(t *testing.T) {
	known := []string{"address", "user", "port", "identity_file", "vars"}
	tests := []struct{ word, want string }{
		{"adress", ` (did you mean "address"?)`},
		{"identityfile", ` (did you mean "identity_file"?)`},
		{"prot", ` (did you mean "port"?)`},
		{"hostname", ""},
		{"x", ""},
	}
	for _, tt := range tests {
		if got := suggest(tt.word, known); got != tt.want {
			t.Errorf("suggest(%q) = %q, want %q", tt.word, got, tt.want)
		}
	}
}
