package inventory

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// sentinels are all the errors a parse may wrap.
var sentinels = []error{
	ErrUnreadable, ErrUnknownFormat, ErrSyntax, ErrUnknownKey, ErrDuplicateHost, ErrUnknownHost,
	ErrUnknownGroup, ErrEmptyGroup, ErrNoHosts, ErrBadName, ErrBadValue, ErrCycle,
}

func FuzzParseNative(f *testing.F) {
	addSeeds(f, "native.yaml")
	for _, s := range []string{
		"hosts:\n  a:\n",
		"defaults: {user: root, port: 22}\nhosts: {a: {address: x, vars: {k: [1, {b: c}]}}}\ngroups:\n  g: {hosts: [a], children: [h]}\n  h: {hosts: [a]}\n",
		"vars: &v {a: 1}\nhosts:\n  a: {vars: {<<: *v, b: 2}}\n",
		"hosts: {a: {port: 0}}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { fuzzParse(t, "inventory.yaml", data, FormatNative) })
}

func FuzzParseAnsibleYAML(f *testing.F) {
	addSeeds(f, "ansible.yaml", "csm.yaml")
	for _, s := range []string{
		"all:\n  hosts:\n    n[1:3]:\n    '[fe80::1]:22':\n",
		"g:\n  children:\n    h:\n      hosts: {a: {ansible_port: 22}}\n      vars: {ansible_group_priority: 3}\n",
		"all:\n  children: &c\n    g:\n      hosts: {h: }\n      children: *c\n",
		"all:\n  vars:\n    x: &a {b: *a}\n  hosts: {h: }\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { fuzzParse(t, "inventory.yml", data, FormatAnsibleYAML) })
}

func FuzzParseAnsibleINI(f *testing.F) {
	addSeeds(f, "ansible.ini", "csm.ini")
	for _, s := range []string{
		"a\n[g]\nn[01:03]:22 x=\"y z\" # c\n[g:vars]\nk='v'\n[p:children]\ng\n",
		"[a:children]\nb\n[b:children]\na\n[b]\nh\n",
		"fe80::1\n[all:vars]\nansible_user=root\n",
		"[g]\nh ansible_ssh_host=x ansible_host=y\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { fuzzParse(t, "hosts.ini", data, FormatAnsibleINI) })
}

// addSeeds adds testdata files to the corpus.
func addSeeds(f *testing.F, files ...string) {
	for _, file := range files {
		data, err := os.ReadFile(filepath.Join("testdata", file))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
}

// fuzzParse parses data in the given format and by detection, and checks
// that errors are well-formed and that inventories hold their invariants.
func fuzzParse(t *testing.T, name string, data []byte, format string) {
	check := func(inv *Inventory, err error) {
		if err != nil {
			checkParseError(t, err)
			return
		}
		checkInvariants(t, inv)
		checkNames(t, inv)
		for _, p := range []string{"masters", "all:!ungrouped", "*[0]", "~.", inv.Hosts[0].Name} {
			if _, err := inv.Select(p); err != nil && !errors.Is(err, ErrNoMatch) && !errors.Is(err, ErrBadPattern) {
				t.Fatalf("Select(%q): unexpected error %v", p, err)
			}
		}
	}
	inv, err := ParseFormat(name, data, format)
	check(inv, err)
	inv2, err2 := ParseFormat(name, data, format)
	if !reflect.DeepEqual(inv, inv2) || fmt.Sprint(err) != fmt.Sprint(err2) {
		t.Fatalf("not deterministic: %v / %v", err, err2)
	}
	check(Parse(name, data))
	check(Parse("inventory", data)) // detection by content
}

// checkNames: every host and group name obeys the rule the parser enforces
// (so that host patterns and logs can trust them), and every host is found
// by its own name.
func checkNames(t *testing.T, inv *Inventory) {
	t.Helper()
	for _, h := range inv.Hosts {
		if why := badHostName(h.Name); why != "" {
			t.Fatalf("host %q accepted: %s", h.Name, why)
		}
		if got, ok := inv.Host(h.Name); !ok || got != h {
			t.Fatalf("Host(%q) = %v, %v", h.Name, got, ok)
		}
	}
	for g := range inv.Groups {
		if why := badGroupName(g); why != "" {
			t.Fatalf("group %q accepted: %s", g, why)
		}
	}
}

// checkParseError verifies that err is a one-line *Error naming file and
// line, wrapping a sentinel.
func checkParseError(t *testing.T, err error) {
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %T %v is not an *Error", err, err)
	}
	if e.Line < 1 || !strings.HasPrefix(err.Error(), fmt.Sprintf("%s:%d: ", e.File, e.Line)) {
		t.Fatalf("error %q does not name file and line", err)
	}
	if strings.ContainsAny(err.Error(), "\r\n") {
		t.Fatalf("error %q is not one line", err)
	}
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return
		}
	}
	t.Fatalf("error %v wraps no sentinel", err)
}
