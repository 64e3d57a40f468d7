package inventory

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestParseErrors(t *testing.T) {
	t.Setenv("HOME", testHome)
	tests := []struct {
		name string
		file string // default inventory.yaml
		data string
		kind error
		line int
		msg  string // substring of the message
	}{
		// Native format.
		{name: "native unknown host key", data: "hosts:\n  ncn-m001: {adress: 10.0.0.1}\n",
			kind: ErrUnknownKey, line: 2, msg: `unknown key "adress" in host ncn-m001 (did you mean "address"?)`},
		{name: "native unknown top-level key", data: "hosts: {a: }\nhostgroups: {}\n",
			kind: ErrUnknownKey, line: 2, msg: `unknown key "hostgroups" at the top level (want "vars", "defaults", "hosts" or "groups")`},
		{name: "native address in defaults", data: "defaults: {user: root, address: x}\nhosts: {a: }\n",
			kind: ErrUnknownKey, line: 1, msg: `unknown key "address" in defaults`},
		{name: "native unknown group key", data: "hosts: {a: }\ngroups:\n  masters:\n    host: [a]\n",
			kind: ErrUnknownKey, line: 4, msg: `unknown key "host" in group masters (did you mean "hosts"?)`},
		{name: "native duplicate host", data: "hosts:\n  a:\n  b:\n  a:\n",
			kind: ErrDuplicateHost, line: 4, msg: `duplicate host "a" in hosts (first at line 2)`},
		{name: "native host listed twice in a group", data: "hosts: {a: , b: }\ngroups:\n  masters:\n    hosts:\n      - a\n      - a\n",
			kind: ErrDuplicateHost, line: 6, msg: "host a is listed twice in group masters (first at line 5)"},
		{name: "native unknown host in group", data: "hosts: {ncn-m001: }\ngroups:\n  masters: {hosts: [ncn-m01]}\n",
			kind: ErrUnknownHost, line: 3, msg: `group masters lists unknown host "ncn-m01" (not under the top-level hosts) (did you mean "ncn-m001"?)`},
		{name: "native unknown child group", data: "hosts: {a: }\ngroups:\n  masters: {hosts: [a]}\n  k8s:\n    children:\n      - master\n",
			kind: ErrUnknownGroup, line: 6, msg: `group k8s lists unknown child group "master" (not under groups) (did you mean "masters"?)`},
		{name: "native empty group", data: "hosts: {a: }\ngroups:\n  masters: {hosts: [a]}\n  etcd:\n    vars: {x: y}\n",
			kind: ErrEmptyGroup, line: 4, msg: "group etcd has no hosts"},
		{name: "native empty group through children", data: "hosts: {a: }\ngroups:\n  parent: {children: [child]}\n  child: {}\n",
			kind: ErrEmptyGroup, line: 3, msg: "group parent has no hosts"},
		{name: "native group all", data: "hosts: {a: }\ngroups:\n  all: {hosts: [a]}\n",
			kind: ErrBadName, line: 3, msg: `group "all" is implicit`},
		{name: "native group named like a host", data: "hosts: {a: , b: }\ngroups:\n  b: {hosts: [a]}\n",
			kind: ErrBadName, line: 3, msg: `"b" is both a group and a host`},
		{name: "native group cycle", data: "hosts: {h: }\ngroups:\n  a: {hosts: [h], children: [b]}\n  b: {children: [a]}\n",
			kind: ErrCycle, line: 4, msg: "groups contain each other: a -> b -> a"},
		{name: "native port out of range", data: "hosts:\n  a:\n    port: 70000\n",
			kind: ErrBadValue, line: 3, msg: `host a: port "70000": want a port number from 1 to 65535`},
		{name: "native port in defaults", data: "defaults:\n  port: ssh\nhosts: {a: }\n",
			kind: ErrBadValue, line: 2, msg: `host a: port "ssh"`},
		{name: "native templated address", data: "hosts:\n  a: {address: \"{{ ip }}\"}\n",
			kind: ErrBadValue, line: 2, msg: "templates are not evaluated"},
		{name: "native address with space", data: "hosts:\n  a: {address: \"10.0.0.1 \"}\n",
			kind: ErrBadValue, line: 2, msg: "must not contain spaces"},
		{name: "native empty user", data: "hosts:\n  a: {user: }\n",
			kind: ErrBadValue, line: 2, msg: "host a user must be a non-empty string"},
		{name: "native identity ~user", data: "hosts:\n  a: {identity_file: ~root/key}\n",
			kind: ErrBadValue, line: 2, msg: "only ~/ is expanded"},
		{name: "native bad host name", data: "hosts:\n  'ncn m001':\n",
			kind: ErrBadName, line: 2, msg: `invalid host name "ncn m001": contains spaces`},
		{name: "native host pattern characters", data: "hosts:\n  ncn-m00[1:3]:\n",
			kind: ErrBadName, line: 2, msg: `invalid host name "ncn-m00[1:3]"`},
		{name: "native host not a mapping", data: "hosts:\n  a: 10.0.0.1\n",
			kind: ErrSyntax, line: 2, msg: `host a must be a mapping, found "10.0.0.1"`},
		{name: "native hosts as a list", data: "hosts:\n  - a\n",
			kind: ErrSyntax, line: 2, msg: "hosts must be a mapping, found a list"},
		{name: "native group hosts not a list", data: "hosts: {a: }\ngroups:\n  masters:\n    hosts: a\n",
			kind: ErrSyntax, line: 4, msg: `group masters hosts must be a list, found "a"`},
		{name: "native vars not a mapping", data: "vars: [a]\nhosts: {a: }\n",
			kind: ErrSyntax, line: 1, msg: "vars must be a mapping, found a list"},
		{name: "native duplicate variable", data: "hosts:\n  a:\n    vars:\n      x: 1\n      x: 2\n",
			kind: ErrSyntax, line: 5, msg: `duplicate variable "x" in host a vars (first at line 4)`},
		{name: "native no hosts", data: "vars: {a: b}\n",
			kind: ErrNoHosts, line: 1, msg: `needs a top-level "hosts" mapping`},
		{name: "native null hosts", data: "vars: {a: b}\nhosts:\n",
			kind: ErrNoHosts, line: 2, msg: "no hosts"},
		{name: "native empty hosts", data: "hosts: {}\n",
			kind: ErrNoHosts, line: 1, msg: "no hosts defined"},

		// YAML itself.
		{name: "yaml syntax", data: "hosts:\n  a: {address: x\n  b:\n",
			kind: ErrSyntax, line: 3, msg: "invalid YAML: did not find expected ',' or '}'"},
		{name: "yaml bad indentation", data: "hosts:\n  a:\n    address: x\n   user: y\n",
			kind: ErrSyntax, line: 4, msg: "invalid YAML: did not find expected key"},
		{name: "yaml less indented key", data: "hosts:\n  a: {}\n b: {}\n",
			kind: ErrSyntax, line: 3, msg: "invalid YAML: did not find expected key"},
		{name: "yaml list item expected", data: "hosts:\n  - x\n  y: z\n",
			kind: ErrSyntax, line: 3, msg: "invalid YAML: did not find expected '-' indicator"},
		{name: "yaml unclosed flow at end of file", data: "hosts: {a: {}\n",
			kind: ErrSyntax, line: 2, msg: "invalid YAML"},
		{name: "yaml error on line 1", data: "hosts: a: b\n",
			kind: ErrSyntax, line: 1, msg: "invalid YAML: mapping values are not allowed in this context"},
		{name: "yaml missing colon", data: "hosts:\n  a: {}\nb\n",
			kind: ErrSyntax, line: 3, msg: "invalid YAML: could not find expected ':'"},
		{name: "yaml scanner error", data: "hosts:\n  a: {}\n  b: @x\n",
			kind: ErrSyntax, line: 3, msg: "invalid YAML: found character that cannot start any token"},
		{name: "yaml tab", data: "hosts:\n\ta:\n",
			kind: ErrSyntax, line: 2, msg: "invalid YAML"},
		{name: "yaml two documents", data: "hosts: {a: }\n---\nhosts: {b: }\n",
			kind: ErrSyntax, line: 3, msg: "more than one YAML document"},
		{name: "yaml list at top", data: "- a\n",
			kind: ErrSyntax, line: 1, msg: "top level must be a mapping, found a list"},
		{name: "yaml non-string key", data: "hosts:\n  [a, b]: {}\n",
			kind: ErrSyntax, line: 2, msg: "keys must be non-empty strings"},
		{name: "yaml alias bomb", data: aliasBomb(),
			kind: ErrSyntax, line: 0, msg: "too deeply aliased"},
		{name: "yaml value anchored in itself", data: "all:\n  vars:\n    x: &a {b: *a}\n  hosts: {h: }\n",
			kind: ErrSyntax, line: 3, msg: "nested too deeply"},
		{name: "unknown format", data: "foo: bar\nbaz: 1\n",
			kind: ErrUnknownFormat, line: 1, msg: `cannot tell the inventory format: top-level keys "foo" and "baz" are neither native`},
		{name: "ambiguous format", data: "all: {hosts: {a: }}\nhosts: {a: }\n",
			kind: ErrUnknownFormat, line: 1, msg: `top-level "all" is Ansible YAML but "hosts" belong to the native format`},

		// Ansible YAML.
		{name: "ansible unknown group key", data: "all:\n  children:\n    masters:\n      hostz: {a: }\n",
			kind: ErrUnknownKey, line: 4, msg: `unknown key "hostz" in group masters (did you mean "hosts"?)`},
		{name: "ansible duplicate host key", data: "all:\n  hosts:\n    a:\n    a:\n",
			kind: ErrDuplicateHost, line: 4, msg: `duplicate host "a" in group all hosts (first at line 3)`},
		{name: "ansible range overlaps host", data: "all:\n  hosts:\n    n[1:2]:\n    n2:\n",
			kind: ErrDuplicateHost, line: 4, msg: "host n2 is listed twice in group all (first at line 3)"},
		{name: "ansible range backwards", data: "all:\n  hosts:\n    n[3:1]:\n",
			kind: ErrBadName, line: 3, msg: `group all: invalid host entry "n[3:1]": range begins after its end`},
		{name: "ansible range widths differ", data: "all:\n  hosts:\n    n[01:3]:\n",
			kind: ErrBadName, line: 3, msg: "same number of digits"},
		{name: "ansible range without end", data: "all:\n  hosts:\n    n[1:]:\n",
			kind: ErrBadName, line: 3, msg: "has no end"},
		{name: "ansible range mixed", data: "all:\n  hosts:\n    n[a:5]:\n",
			kind: ErrBadName, line: 3, msg: "must be numbers or single letters"},
		{name: "ansible range unclosed", data: "all:\n  hosts:\n    n[1:2:\n",
			kind: ErrBadName, line: 3, msg: "unclosed ["},
		{name: "ansible range bad step", data: "all:\n  hosts:\n    n[1:9:0]:\n",
			kind: ErrBadName, line: 3, msg: "step must be a positive number"},
		{name: "ansible range too large", data: "all:\n  hosts:\n    n[0:999999999]:\n",
			kind: ErrBadName, line: 3, msg: "more than 100000 values"},
		{name: "ansible ranges multiply too large", data: "all:\n  hosts:\n    n[0:999][0:999]:\n",
			kind: ErrBadName, line: 3, msg: "more than"},
		{name: "ansible bad port", data: "all:\n  hosts:\n    a:ssh:\n",
			kind: ErrBadName, line: 3, msg: `port "ssh" is not a number`},
		{name: "ansible port zero", data: "all:\n  hosts:\n    a:0:\n",
			kind: ErrBadValue, line: 3, msg: `host a: ansible_port "0": want a port number from 1 to 65535`},
		{name: "ansible group port bad", data: "all:\n  children:\n    g:\n      hosts: {a: }\n      vars:\n        ansible_port: '22x'\n",
			kind: ErrBadValue, line: 6, msg: `host a: ansible_port "22x"`},
		{name: "ansible templated host", data: "all:\n  hosts:\n    a:\n      ansible_host: \"{{ lookup('env', 'X') }}\"\n",
			kind: ErrBadValue, line: 4, msg: "host a: ansible_host \"{{ lookup('env', 'X') }}\": templates are not evaluated"},
		{name: "ansible group priority", data: "all:\n  children:\n    g:\n      hosts: {a: }\n      vars: {ansible_group_priority: high}\n",
			kind: ErrBadValue, line: 5, msg: "ansible_group_priority must be an integer"},
		{name: "ansible group is a list", data: "all:\n  children:\n    g:\n      - a\n",
			kind: ErrSyntax, line: 4, msg: `group g must be a mapping with "hosts", "vars" or "children", found a list`},
		{name: "ansible host vars a list", data: "all:\n  hosts:\n    a: [x]\n",
			kind: ErrSyntax, line: 3, msg: "host a variables must be a mapping, found a list"},
		{name: "ansible hosts as a list", data: "all:\n  hosts: [a, b]\n",
			kind: ErrSyntax, line: 2, msg: "group all hosts must be a mapping, found a list"},
		{name: "ansible all as a child", data: "g:\n  hosts: {h: }\n  children:\n    all:\n",
			kind: ErrCycle, line: 4, msg: `group g cannot have "all" as a child`},
		{name: "ansible group contains itself", data: "all:\n  children:\n    a:\n      children:\n        b:\n          children:\n            a:\n",
			kind: ErrCycle, line: 7, msg: "group a contains itself: all -> a -> b -> a"},
		{name: "ansible cycle across definitions", data: "a:\n  hosts: {h: }\n  children: {b: }\nb:\n  children: {a: }\n",
			kind: ErrCycle, line: 5, msg: "groups contain each other: a -> b -> a"},
		{name: "ansible anchored group recursion", data: "all:\n  children: &c\n    g:\n      hosts: {h: }\n      children: *c\n",
			kind: ErrCycle, line: 3, msg: "group g contains itself"},
		{name: "ansible group named like a host", data: "all:\n  hosts: {a: }\n  children:\n    a:\n",
			kind: ErrBadName, line: 4, msg: `"a" is both a group and a host`},
		{name: "ansible host named all", data: "all:\n  hosts:\n    all:\n",
			kind: ErrBadName, line: 3, msg: `"all" is both a group and a host`},
		{name: "ansible bad group name", data: "all:\n  children:\n    'web*':\n",
			kind: ErrBadName, line: 3, msg: `invalid group name "web*"`},
		{name: "ansible host with comma", data: "all:\n  hosts:\n    'a,b':\n",
			kind: ErrBadName, line: 3, msg: `invalid host name "a,b"`},
		{name: "ansible no hosts", data: "all:\n  children:\n    masters:\n",
			kind: ErrNoHosts, line: 1, msg: "no hosts defined"},

		// Ansible INI.
		{name: "ini bad header", file: "hosts.ini", data: "[masters]\na\n[bad group]\n",
			kind: ErrSyntax, line: 3, msg: `invalid section header "[bad group]"`},
		{name: "ini unknown section type", file: "hosts.ini", data: "[g:hosts]\na\n",
			kind: ErrSyntax, line: 1, msg: `unknown section type "hosts"`},
		{name: "ini token without =", file: "hosts.ini", data: "[g]\na ansible_host=1.2.3.4 b\n",
			kind: ErrSyntax, line: 2, msg: `[g]: expected key=value after the host name, found "b"`},
		{name: "ini unclosed quote", file: "hosts.ini", data: "[g]\n\na x=\"y\n",
			kind: ErrSyntax, line: 3, msg: "unclosed double quote"},
		{name: "ini var without =", file: "hosts.ini", data: "[g]\na\n[g:vars]\nx\n",
			kind: ErrSyntax, line: 4, msg: `[g:vars]: expected key=value, found "x"`},
		{name: "ini vars of undefined group", file: "hosts.ini", data: "[g]\na\n[h:vars]\nx=1\n",
			kind: ErrUnknownGroup, line: 3, msg: `[h:vars] is for group "h", which is never defined`},
		{name: "ini undefined child", file: "hosts.ini", data: "[masters]\na\n[k8s:children]\nmasters\nmaster\n",
			kind: ErrUnknownGroup, line: 5, msg: `[k8s:children] lists undefined group "master" (did you mean "masters"?)`},
		{name: "ini bad child line", file: "hosts.ini", data: "[g]\na\n[k:children]\ng h\n",
			kind: ErrSyntax, line: 4, msg: `expected a group name, found "g h"`},
		{name: "ini duplicate host in section", file: "hosts.ini", data: "[g]\na\nb\na x=1\n",
			kind: ErrDuplicateHost, line: 4, msg: "host a is listed twice in [g] (first at line 2)"},
		{name: "ini duplicate through range", file: "hosts.ini", data: "n2\nn[1:3]\n",
			kind: ErrDuplicateHost, line: 2, msg: "host n2 is listed twice in the hosts before any section (first at line 1)"},
		{name: "ini bad range", file: "hosts.ini", data: "[g]\nn[1:2:x]\n",
			kind: ErrBadName, line: 2, msg: "step must be a positive number"},
		{name: "ini bracket without range", file: "hosts.ini", data: "[g]\nn[12]\n",
			kind: ErrBadName, line: 2, msg: "must be [begin:end] or [begin:end:step]"},
		{name: "ini cycle", file: "hosts.ini", data: "[a]\nh\n[a:children]\nb\n[b:children]\na\n",
			kind: ErrCycle, line: 6, msg: "groups contain each other: a -> b -> a"},
		{name: "ini ungrouped children", file: "hosts.ini", data: "[g]\nh\n[ungrouped:children]\ng\n",
			kind: ErrBadName, line: 4, msg: `group "ungrouped" cannot have children`},
		{name: "ini port out of range", file: "hosts.ini", data: "[g]\nh:99999\n",
			kind: ErrBadValue, line: 2, msg: `host h: ansible_port "99999"`},
		{name: "ini group var port", file: "hosts.ini", data: "[g]\nh\n[g:vars]\nansible_port=x\n",
			kind: ErrBadValue, line: 4, msg: `host h: ansible_port "x"`},
		{name: "ini empty", file: "hosts.ini", data: "# nothing\n[g]\n",
			kind: ErrNoHosts, line: 1, msg: "no hosts defined"},
		{name: "ini too many colons", file: "hosts.ini", data: "a:b:22\n",
			kind: ErrBadName, line: 1, msg: "too many colons"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := tt.file
			if file == "" {
				file = "inventory.yaml"
			}
			start := time.Now()
			inv, err := Parse(file, []byte(tt.data))
			if elapsed := time.Since(start); elapsed > 5*time.Second {
				t.Errorf("Parse took %v", elapsed)
			}
			if err == nil {
				t.Fatalf("Parse succeeded with %d hosts; want %v", len(inv.Hosts), tt.kind)
			}
			if !errors.Is(err, tt.kind) {
				t.Errorf("err = %v; want errors.Is %v", err, tt.kind)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err %T is not an *Error", err)
			}
			if tt.line > 0 && e.Line != tt.line {
				t.Errorf("Line = %d, want %d (%v)", e.Line, tt.line, err)
			}
			prefix := fmt.Sprintf("%s:%d: ", file, e.Line)
			if e.Line < 1 || !strings.HasPrefix(err.Error(), prefix) {
				t.Errorf("message %q does not start with %q", err, prefix)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("message %q does not contain %q", err, tt.msg)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("message %q is not one line", err)
			}
		})
	}
}

// TestTooLarge checks the bound on host references, which host ranges
// multiply, without building a huge inventory.
func TestTooLarge(t *testing.T) {
	b := newBuilder(source{file: "hosts.ini"}, FormatAnsibleINI)
	b.work = maxAssignments
	_, err := b.host("h", 7)
	if !errors.Is(err, ErrBadValue) || !strings.HasPrefix(err.Error(), "hosts.ini:7: inventory too large") {
		t.Errorf("err = %v, want hosts.ini:7: inventory too large", err)
	}
}

// TestErrorMessage pins one complete message, as an admin would read it.
func TestErrorMessage(t *testing.T) {
	_, err := Parse("inventory.yaml", []byte("hosts:\n  ncn-m001:\n    adress: 10.77.0.11\n"))
	want := `inventory.yaml:3: unknown key "adress" in host ncn-m001 (did you mean "address"?)`
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant  %s", err, want)
	}
}

// aliasBomb returns YAML whose aliases expand to 10^8 nodes.
func aliasBomb() string {
	var sb strings.Builder
	sb.WriteString("all:\n  hosts: {h: }\n  vars:\n    l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i <= 8; i++ {
		fmt.Fprintf(&sb, "    l%d: &l%d [", i, i)
		for j := 0; j < 10; j++ {
			if j > 0 {
				sb.WriteString(", ")
			}
			fmt.Fprintf(&sb, "*l%d", i-1)
		}
		sb.WriteString("]\n")
	}
	return sb.String()
}
