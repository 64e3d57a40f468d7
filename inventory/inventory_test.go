package inventory

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

const testHome = "/home/admin"

// labHosts is what testdata/native.yaml, ansible.yaml and ansible.ini define.
func labHosts() []*Host {
	common := map[string]string{"etcd_data_dir": "/var/lib/etcd", "site": "lab", "cluster": "lab"}
	with := func(kv ...string) map[string]string {
		m := maps.Clone(common)
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	key := testHome + "/.ssh/id_ed25519"
	masters := []string{"all", "k8s", "masters"}
	return []*Host{
		{Name: "ncn-m001", Address: "10.77.0.11", User: "root", Port: 22, IdentityFile: key, Groups: masters,
			Vars: with("role", "master", "etcd_member", "true")},
		{Name: "ncn-m002", Address: "10.77.0.12", User: "root", Port: 22, IdentityFile: key, Groups: masters,
			Vars: with("role", "master")},
		{Name: "ncn-m003", Address: "10.77.0.13", User: "root", Port: 2222, IdentityFile: key, Groups: masters,
			Vars: with("role", "master")},
		{Name: "ncn-w001", Address: "10.77.0.21", User: "admin", Port: 22, IdentityFile: key,
			Groups: []string{"all", "k8s", "workers"}, Vars: with("role", "worker")},
	}
}

func TestFormatsAgree(t *testing.T) {
	t.Setenv("HOME", testHome)
	wantGroups := map[string][]string{
		"all":     {"ncn-m001", "ncn-m002", "ncn-m003", "ncn-w001"},
		"k8s":     {"ncn-m001", "ncn-m002", "ncn-m003", "ncn-w001"},
		"masters": {"ncn-m001", "ncn-m002", "ncn-m003"},
		"workers": {"ncn-w001"},
	}
	tests := []struct {
		file, format string
		extraGroups  map[string][]string
	}{
		{"native.yaml", FormatNative, nil},
		{"ansible.yaml", FormatAnsibleYAML, map[string][]string{"ungrouped": {}}},
		{"ansible.ini", FormatAnsibleINI, map[string][]string{"ungrouped": {}}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("testdata", tt.file)
			inv, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			if inv.Format != tt.format || inv.Path != path {
				t.Errorf("Format, Path = %q, %q; want %q, %q", inv.Format, inv.Path, tt.format, path)
			}
			assertHosts(t, inv.Hosts, labHosts())
			groups := maps.Clone(wantGroups)
			maps.Copy(groups, tt.extraGroups)
			assertGroups(t, inv.Groups, groups)
			if want := map[string]string{"etcd_data_dir": "/var/lib/etcd", "site": "lab"}; !reflect.DeepEqual(inv.Vars, want) {
				t.Errorf("Vars = %v, want %v", inv.Vars, want)
			}
			checkInvariants(t, inv)
		})
	}
}

// csmHost is the expected outcome for one host of testdata/csm.*.
type csmHost struct {
	name, address string
	groups        []string
	vars          map[string]string // checked keys only
}

func TestCSMInventory(t *testing.T) {
	k8sMaster := []string{"all", "kubernetes", "masters", "ncn"}
	want := []csmHost{
		{"ncn-m001", "10.252.1.4", []string{"all", "first_master", "kubernetes", "masters", "ncn"},
			map[string]string{"role": "pit", "etcd_member": "true", "etcd_initial": "true", "kubernetes": "true"}},
		{"ncn-m002", "", k8sMaster, map[string]string{"role": "master", "etcd_member": "true", "kubernetes": "true"}},
		{"ncn-m003", "", k8sMaster, map[string]string{"role": "master", "etcd_member": "true"}},
		{"ncn-w001", "", []string{"all", "kubernetes", "ncn", "workers"}, map[string]string{"role": "worker", "kubernetes": "true"}},
		{"ncn-w002", "", []string{"all", "kubernetes", "ncn", "workers"}, map[string]string{"role": "worker"}},
		{"ncn-w003", "", []string{"all", "kubernetes", "ncn", "workers"}, map[string]string{"role": "worker"}},
		{"ncn-s001", "10.252.1.7", []string{"all", "ceph_mons", "ncn", "storage"},
			map[string]string{"role": "storage", "kubernetes": "false", "ceph_role": "osd", "ceph_mon": "true"}},
		{"ncn-s002", "", []string{"all", "ceph_mons", "ncn", "storage"}, map[string]string{"ceph_role": "osd", "ceph_mon": "true"}},
		{"ncn-s003", "", []string{"all", "ceph_mons", "ncn", "storage"}, map[string]string{"ceph_role": "osd", "ceph_mon": "true"}},
	}
	common := map[string]string{
		"site_domain":   "hpc.example.com",
		"etcd_data_dir": "/var/lib/etcd",
		"ntp_servers":   `["ncn-m001","ncn-m002"]`,
	}
	wantGroups := map[string][]string{
		"all":          {"ncn-m001", "ncn-m002", "ncn-m003", "ncn-w001", "ncn-w002", "ncn-w003", "ncn-s001", "ncn-s002", "ncn-s003"},
		"ncn":          {"ncn-m001", "ncn-m002", "ncn-m003", "ncn-w001", "ncn-w002", "ncn-w003", "ncn-s001", "ncn-s002", "ncn-s003"},
		"kubernetes":   {"ncn-m001", "ncn-m002", "ncn-m003", "ncn-w001", "ncn-w002", "ncn-w003"},
		"masters":      {"ncn-m001", "ncn-m002", "ncn-m003"},
		"workers":      {"ncn-w001", "ncn-w002", "ncn-w003"},
		"storage":      {"ncn-s001", "ncn-s002", "ncn-s003"},
		"ceph_mons":    {"ncn-s001", "ncn-s002", "ncn-s003"},
		"first_master": {"ncn-m001"},
		"ungrouped":    {},
	}

	var loaded []*Inventory
	for _, file := range []string{"csm.yaml", "csm.ini"} {
		t.Run(file, func(t *testing.T) {
			inv, err := Load(filepath.Join("testdata", file))
			if err != nil {
				t.Fatal(err)
			}
			loaded = append(loaded, inv)
			if len(inv.Hosts) != len(want) {
				t.Fatalf("got %d hosts %v, want %d", len(inv.Hosts), hostNamesOf(inv.Hosts), len(want))
			}
			for i, w := range want {
				h := inv.Hosts[i]
				if h.Name != w.name || h.Address != w.address || h.User != "root" || h.Port != 0 ||
					h.IdentityFile != "/root/.ssh/id_rsa" || !slices.Equal(h.Groups, w.groups) {
					t.Errorf("host %d = %+v, want name %s, address %q, user root, port 0, key /root/.ssh/id_rsa, groups %v",
						i, *h, w.name, w.address, w.groups)
				}
				for k, v := range w.vars {
					if h.Vars[k] != v {
						t.Errorf("%s: var %s = %q, want %q", h.Name, k, h.Vars[k], v)
					}
				}
				for k, v := range common {
					if h.Vars[k] != v {
						t.Errorf("%s: var %s = %q, want %q", h.Name, k, h.Vars[k], v)
					}
				}
				for _, k := range []string{"ansible_host", "ansible_ssh_host", "ansible_user", "ansible_ssh_private_key_file"} {
					if _, ok := h.Vars[k]; ok {
						t.Errorf("%s: connection variable %s left in Vars", h.Name, k)
					}
				}
			}
			assertGroups(t, inv.Groups, wantGroups)
			checkInvariants(t, inv)
		})
	}
	if len(loaded) == 2 {
		assertHosts(t, loaded[1].Hosts, loaded[0].Hosts)
	}
}

func TestNative(t *testing.T) {
	t.Setenv("HOME", testHome)
	tests := []struct {
		name   string
		data   string
		hosts  []*Host
		groups map[string][]string
	}{
		{
			name: "masters defaults to every host",
			data: "hosts:\n  a:\n  b: {address: b.example.com}\n",
			hosts: []*Host{
				{Name: "a", Groups: []string{"all", "masters"}, Vars: map[string]string{}},
				{Name: "b", Address: "b.example.com", Groups: []string{"all", "masters"}, Vars: map[string]string{}},
			},
			groups: map[string][]string{"all": {"a", "b"}, "masters": {"a", "b"}},
		},
		{
			name: "masters defaults when groups lacks it",
			data: "hosts: {a: {}, b: {}}\ngroups:\n  etcd: {hosts: [b]}\n",
			hosts: []*Host{
				{Name: "a", Groups: []string{"all", "masters"}, Vars: map[string]string{}},
				{Name: "b", Groups: []string{"all", "etcd", "masters"}, Vars: map[string]string{}},
			},
			groups: map[string][]string{"all": {"a", "b"}, "masters": {"a", "b"}, "etcd": {"b"}},
		},
		{
			name: "the default masters group can be a child",
			data: "hosts: {a: , b: }\ngroups:\n  k8s: {children: [masters], vars: {x: k8s}}\n",
			hosts: []*Host{
				{Name: "a", Groups: []string{"all", "k8s", "masters"}, Vars: map[string]string{"x": "k8s"}},
				{Name: "b", Groups: []string{"all", "k8s", "masters"}, Vars: map[string]string{"x": "k8s"}},
			},
			groups: map[string][]string{"all": {"a", "b"}, "masters": {"a", "b"}, "k8s": {"a", "b"}},
		},
		{
			name: "host settings override defaults, tilde expands",
			data: `
defaults: {user: root, port: 22, identity_file: ~/.ssh/id_rsa}
hosts:
  a: {user: admin, port: "2222", identity_file: "~"}
  b: {identity_file: /etc/key}
groups:
  masters: {hosts: [b, a]}
`,
			hosts: []*Host{
				{Name: "a", User: "admin", Port: 2222, IdentityFile: testHome, Groups: []string{"all", "masters"}, Vars: map[string]string{}},
				{Name: "b", User: "root", Port: 22, IdentityFile: "/etc/key", Groups: []string{"all", "masters"}, Vars: map[string]string{}},
			},
			groups: map[string][]string{"all": {"a", "b"}, "masters": {"a", "b"}},
		},
		{
			name: "variable precedence: global < parent < child < host; siblings by name",
			data: `
vars: {v: global, g: global, p: global, c: global, s: global}
hosts:
  a: {vars: {v: host}}
groups:
  parent: {children: [child], vars: {v: parent, g: parent, p: parent}}
  child: {hosts: [a], vars: {v: child, g: child}}
  zeta: {hosts: [a], vars: {s: zeta}}
  alpha: {hosts: [a], vars: {s: alpha}}
  masters: {hosts: [a]}
`,
			hosts: []*Host{{Name: "a", Groups: []string{"all", "alpha", "child", "masters", "parent", "zeta"},
				Vars: map[string]string{"v": "host", "g": "child", "p": "parent", "c": "global", "s": "zeta"}}},
			groups: map[string][]string{"all": {"a"}, "parent": {"a"}, "child": {"a"}, "zeta": {"a"}, "alpha": {"a"}, "masters": {"a"}},
		},
		{
			name: "ansible names are plain variables in the native format",
			data: "hosts:\n  a: {vars: {ansible_host: x, ansible_ssh_host: y, ansible_group_priority: z}}\n",
			hosts: []*Host{{Name: "a", Groups: []string{"all", "masters"},
				Vars: map[string]string{"ansible_host": "x", "ansible_ssh_host": "y", "ansible_group_priority": "z"}}},
			groups: map[string][]string{"all": {"a"}, "masters": {"a"}},
		},
		{
			name: "values: scalars as written, lists and maps as JSON, merge keys",
			data: `
vars:
  n: 0x1F
  b: yes
  f: 1.50
  nul:
  q: "it's <ok>"
  list: [1, two, 3.5, true, null]
  map: {z: 1, a: [x]}
  base: &base {k: v}
hosts:
  a:
    vars:
      <<: {from_merge: m, over: merged}
      over: explicit
`,
			hosts: []*Host{{Name: "a", Groups: []string{"all", "masters"}, Vars: map[string]string{
				"n": "0x1F", "b": "yes", "f": "1.50", "nul": "", "q": "it's <ok>",
				"list": `[1,"two",3.5,true,null]`, "map": `{"a":["x"],"z":1}`, "base": `{"k":"v"}`,
				"from_merge": "m", "over": "explicit",
			}}},
			groups: map[string][]string{"all": {"a"}, "masters": {"a"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv, err := Parse("inventory.yaml", []byte(tt.data))
			if err != nil {
				t.Fatal(err)
			}
			if inv.Format != FormatNative {
				t.Errorf("Format = %q, want native", inv.Format)
			}
			assertHosts(t, inv.Hosts, tt.hosts)
			assertGroups(t, inv.Groups, tt.groups)
			checkInvariants(t, inv)
		})
	}
}

func TestAnsible(t *testing.T) {
	t.Setenv("HOME", testHome)
	ungrouped := []string{"all", "ungrouped"}
	tests := []struct {
		name, file, data string
		hosts            []*Host
		groups           map[string][]string // checked groups only
	}{
		{
			name: "yaml ranges: padding, stride, letters, several",
			file: "hosts.yml",
			data: "all:\n  hosts:\n    n[1:3]:\n    m[08:10]:\n    w[1:7:3]:\n    x-[a:c]:\n    r[1:2][a:b]:\n",
			hosts: namedHosts(ungrouped, "n1", "n2", "n3", "m08", "m09", "m10", "w1", "w4", "w7",
				"x-a", "x-b", "x-c", "r1a", "r1b", "r2a", "r2b"),
		},
		{
			name: "ini ranges and ungrouped hosts at the top",
			file: "hosts",
			data: "top1\n[g]\nn[01:02]\n[h]\nx[Y:Z]\n",
			hosts: []*Host{
				{Name: "top1", Groups: ungrouped, Vars: map[string]string{}},
				{Name: "n01", Groups: []string{"all", "g"}, Vars: map[string]string{}},
				{Name: "n02", Groups: []string{"all", "g"}, Vars: map[string]string{}},
				{Name: "xY", Groups: []string{"all", "h"}, Vars: map[string]string{}},
				{Name: "xZ", Groups: []string{"all", "h"}, Vars: map[string]string{}},
			},
			groups: map[string][]string{"ungrouped": {"top1"}, "g": {"n01", "n02"}},
		},
		{
			name: "yaml host:port, legacy names, tilde, IPv6",
			file: "inv.yaml",
			data: `
all:
  hosts:
    a:2222: {ansible_ssh_host: 10.0.0.1, ansible_ssh_user: u, ansible_private_key_file: ~/k}
    b: {ansible_ssh_port: 23, ansible_port: 24}
    "[fe80::1]:2200":
    "fe80::2":
`,
			hosts: []*Host{
				{Name: "a", Address: "10.0.0.1", User: "u", Port: 2222, IdentityFile: testHome + "/k", Groups: ungrouped, Vars: map[string]string{}},
				{Name: "b", Port: 24, Groups: ungrouped, Vars: map[string]string{}},
				{Name: "fe80::1", Port: 2200, Groups: ungrouped, Vars: map[string]string{}},
				{Name: "fe80::2", Groups: ungrouped, Vars: map[string]string{}},
			},
		},
		{
			name: "ini host:port, explicit ansible_port wins, quoting and comments",
			file: "inv.ini",
			data: `; comment
# comment
[g]
a:2222 ansible_port=2223 x="two words" y='single # not comment' z=a\ b # comment
b:2200 q="say \"hi\"" empty=
[g:vars]
gv = "quoted # kept"
raw=value # kept too, as Ansible does
esc='a\tb'
`,
			hosts: []*Host{
				{Name: "a", Port: 2223, Groups: []string{"all", "g"}, Vars: map[string]string{
					"x": "two words", "y": "single # not comment", "z": "a b",
					"gv": "quoted # kept", "raw": "value # kept too, as Ansible does", "esc": "a\tb"}},
				{Name: "b", Port: 2200, Groups: []string{"all", "g"}, Vars: map[string]string{
					"q": `say "hi"`, "empty": "",
					"gv": "quoted # kept", "raw": "value # kept too, as Ansible does", "esc": "a\tb"}},
			},
		},
		{
			name: "ini: vars and children before the group, BOM and CRLF, [all] section",
			file: "inv.ini",
			data: "\xef\xbb\xbf[parent:children]\r\nchild # comment\r\n[child:vars]\r\nv=child\r\n[parent:vars]\r\nv=parent\r\np=parent\r\n[child]\r\nc1\r\n[all]\r\nloose\r\n[all:vars]\r\np=global\r\n",
			hosts: []*Host{
				{Name: "c1", Groups: []string{"all", "child", "parent"}, Vars: map[string]string{"v": "child", "p": "parent"}},
				{Name: "loose", Groups: ungrouped, Vars: map[string]string{"p": "global"}},
			},
			groups: map[string][]string{"parent": {"c1"}, "child": {"c1"}, "ungrouped": {"loose"}},
		},
		{
			name: "yaml: groups without all, a group defined twice, later host vars win",
			file: "inv.yaml",
			data: `
g1:
  hosts: {a: {v: first, w: first}, b: }
g2:
  hosts: {a: {v: second}}
  vars: {gv: g2}
  children:
    g1:
      vars: {gv: g1}
`,
			hosts: []*Host{
				{Name: "a", Groups: []string{"all", "g1", "g2"}, Vars: map[string]string{"v": "second", "w": "first", "gv": "g1"}},
				{Name: "b", Groups: []string{"all", "g1", "g2"}, Vars: map[string]string{"gv": "g1"}},
			},
			groups: map[string][]string{"g1": {"a", "b"}, "g2": {"a", "b"}, "ungrouped": nil},
		},
		{
			name: "yaml: ansible_group_priority orders groups of the same depth",
			file: "inv.yaml",
			data: `
all:
  children:
    aaa: {hosts: {h: }, vars: {v: aaa, ansible_group_priority: 10}}
    zzz: {hosts: {h: }, vars: {v: zzz}}
`,
			hosts: []*Host{{Name: "h", Groups: []string{"aaa", "all", "zzz"}, Vars: map[string]string{"v": "aaa"}}},
		},
		{
			name: "yaml: anchors, merge keys, null and empty-string hosts, JSON values",
			file: "inv.yaml",
			data: `
all:
  vars:
    dns: &dns [10.1.1.1, 10.1.1.2]
  children:
    masters:
      hosts:
        m1: &common {ansible_user: root, tier: gold}
        m2:
          <<: *common
          tier: silver
        m3: ""
    others:
      hosts:
        o1: {servers: *dns}
`,
			hosts: []*Host{
				{Name: "m1", User: "root", Groups: []string{"all", "masters"}, Vars: map[string]string{"dns": `["10.1.1.1","10.1.1.2"]`, "tier": "gold"}},
				{Name: "m2", User: "root", Groups: []string{"all", "masters"}, Vars: map[string]string{"dns": `["10.1.1.1","10.1.1.2"]`, "tier": "silver"}},
				{Name: "m3", Groups: []string{"all", "masters"}, Vars: map[string]string{"dns": `["10.1.1.1","10.1.1.2"]`}},
				{Name: "o1", Groups: []string{"all", "others"}, Vars: map[string]string{"dns": `["10.1.1.1","10.1.1.2"]`, "servers": `["10.1.1.1","10.1.1.2"]`}},
			},
		},
		{
			name: "yaml: modern name beats legacy name at the same level, host level beats group level",
			file: "inv.yaml",
			data: `
all:
  vars: {ansible_host: global-addr}
  children:
    g:
      vars: {ansible_ssh_host: group-addr, ansible_user: group-user}
      hosts:
        a: {ansible_host: modern, ansible_ssh_host: legacy}
        b: {ansible_ssh_user: host-user}
        c:
`,
			hosts: []*Host{
				{Name: "a", Address: "modern", User: "group-user", Groups: []string{"all", "g"}, Vars: map[string]string{}},
				{Name: "b", Address: "group-addr", User: "host-user", Groups: []string{"all", "g"}, Vars: map[string]string{}},
				{Name: "c", Address: "group-addr", User: "group-user", Groups: []string{"all", "g"}, Vars: map[string]string{}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv, err := Parse(tt.file, []byte(tt.data))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(inv.Format, "ansible-") {
				t.Errorf("Format = %q, want an Ansible format", inv.Format)
			}
			assertHosts(t, inv.Hosts, tt.hosts)
			for g, want := range tt.groups {
				if got := inv.Groups[g]; !slices.Equal(got, want) {
					t.Errorf("Groups[%s] = %v, want %v", g, got, want)
				}
			}
			checkInvariants(t, inv)
		})
	}
}

func TestParseFormat(t *testing.T) {
	data := []byte("all:\n  hosts:\n    a:\n")
	if _, err := ParseFormat("x", data, "toml"); !errors.Is(err, ErrUnknownFormat) {
		t.Errorf("unknown format name: err = %v, want ErrUnknownFormat", err)
	}
	inv, err := ParseFormat("x", data, FormatAnsibleYAML)
	if err != nil || inv.Format != FormatAnsibleYAML {
		t.Fatalf("ParseFormat(ansible-yaml) = %+v, %v", inv, err)
	}
	// Forced native: "all" is an unknown top-level key.
	if _, err := ParseFormat("x", data, FormatNative); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("forced native: err = %v, want ErrUnknownKey", err)
	}
	// Forced INI: "all:" is read as a host entry with an empty port.
	if _, err := ParseFormat("x", data, FormatAnsibleINI); !errors.Is(err, ErrBadName) {
		t.Errorf("forced INI: err = %v, want ErrBadName", err)
	}
}

func TestDetect(t *testing.T) {
	tests := []struct {
		name, file, data string
		want             string // format, or "" when an error is expected
		err              error
	}{
		{"native by hosts", "inv", "hosts:\n  a:\n", FormatNative, nil},
		{"native by groups only", "inv.yaml", "groups:\n  g: {hosts: [a]}\n", "", ErrNoHosts},
		{"native typo still native", "inv.yaml", "vars: {}\nhostz:\n  a:\n", "", ErrUnknownKey},
		{"ansible by all", "inv", "all:\n  hosts: {a: }\n", FormatAnsibleYAML, nil},
		{"yaml document start", "inv", "---\n# comment\nall:\n  hosts: {a: }\n...\n", FormatAnsibleYAML, nil},
		{"ansible without all", "inv", "masters:\n  hosts: {a: }\n", FormatAnsibleYAML, nil},
		{"ansible json", "inv.json", `{"all": {"hosts": {"a": null}}}`, FormatAnsibleYAML, nil},
		{"ini by extension", "inv.ini", "a\n", FormatAnsibleINI, nil},
		{"ini by extension despite yaml look", "inv.cfg", "all:\n", "", ErrBadName},
		{"ini by section", "hosts", "[masters]\na\n", FormatAnsibleINI, nil},
		{"ini word list", "hosts", "a\nb ansible_host=1.2.3.4\n", FormatAnsibleINI, nil},
		{"ini host:port", "hosts", "a:22\n", FormatAnsibleINI, nil},
		{"ini with comments first", "hosts", "# c\n; c\n\n[masters]\na\n", FormatAnsibleINI, nil},
		{"both all and hosts", "inv.yaml", "all: {}\nhosts: {a: }\n", "", ErrUnknownFormat},
		{"neither", "inv.yaml", "foo: bar\nbaz: {qux: 1}\n", "", ErrUnknownFormat},
		{"yaml list", "inv.yaml", "- a\n- b\n", "", ErrSyntax},
		{"broken yaml without extension", "inv", "hosts:\n  a: [\n", "", ErrSyntax},
		{"empty yaml", "inv.yaml", "# nothing\n", "", ErrNoHosts},
		{"empty without extension", "inv", "", "", ErrNoHosts},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv, err := Parse(tt.file, []byte(tt.data))
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if inv.Format != tt.want {
				t.Errorf("Format = %q, want %q", inv.Format, tt.want)
			}
		})
	}
}

func TestLoadUnreadable(t *testing.T) {
	dir := t.TempDir()
	for _, path := range []string{filepath.Join(dir, "missing.yaml"), dir} {
		_, err := Load(path)
		if !errors.Is(err, ErrUnreadable) {
			t.Errorf("Load(%s) err = %v, want ErrUnreadable", path, err)
			continue
		}
		if !strings.HasPrefix(err.Error(), path+": cannot read inventory: ") {
			t.Errorf("message %q does not start with the path", err)
		}
	}
	_, err := Load(filepath.Join(dir, "missing.yaml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("err = %v, want it to wrap os.ErrNotExist too", err)
	}
}

func TestHost(t *testing.T) {
	inv, err := Load(filepath.Join("testdata", "csm.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	h, ok := inv.Host("ncn-s002")
	if !ok || h.Name != "ncn-s002" || h != inv.Hosts[7] {
		t.Errorf("Host(ncn-s002) = %+v, %v", h, ok)
	}
	if h, ok := inv.Host("ncn-s004"); ok || h != nil {
		t.Errorf("Host(ncn-s004) = %+v, %v; want nil, false", h, ok)
	}
	if _, ok := inv.Host("masters"); ok {
		t.Error("Host(masters) found a group")
	}
}

// assertHosts compares hosts field by field, for readable failures.
func assertHosts(t *testing.T, got, want []*Host) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("got %d hosts %v, want %d %v", len(got), hostNamesOf(got), len(want), hostNamesOf(want))
		return
	}
	for i := range want {
		if !reflect.DeepEqual(*got[i], *want[i]) {
			t.Errorf("host %d:\n got  %+v\n want %+v", i, *got[i], *want[i])
		}
	}
}

// assertGroups compares group maps, treating nil and empty lists alike.
func assertGroups(t *testing.T, got, want map[string][]string) {
	t.Helper()
	if !maps.EqualFunc(got, want, func(a, b []string) bool { return slices.Equal(a, b) }) {
		t.Errorf("Groups =\n %v\nwant\n %v", got, want)
	}
}

func hostNamesOf(hosts []*Host) []string {
	names := make([]string, len(hosts))
	for i, h := range hosts {
		names[i] = h.Name
	}
	return names
}

// namedHosts builds hosts with only a name, the given groups and no vars.
func namedHosts(groups []string, names ...string) []*Host {
	hosts := make([]*Host, len(names))
	for i, n := range names {
		hosts[i] = &Host{Name: n, Groups: groups, Vars: map[string]string{}}
	}
	return hosts
}

// checkInvariants verifies what every parsed inventory must satisfy.
func checkInvariants(t testing.TB, inv *Inventory) {
	t.Helper()
	seen := map[string]bool{}
	for _, h := range inv.Hosts {
		if seen[h.Name] {
			t.Fatalf("duplicate host %q", h.Name)
		}
		seen[h.Name] = true
		if !slices.IsSorted(h.Groups) || !slices.Contains(h.Groups, "all") {
			t.Fatalf("host %s: groups %v not sorted or without all", h.Name, h.Groups)
		}
		if h.Vars == nil {
			t.Fatalf("host %s: nil Vars", h.Name)
		}
		if h.Port < 0 || h.Port > 65535 {
			t.Fatalf("host %s: port %d", h.Name, h.Port)
		}
	}
	members := map[string]int{} // group/host pairs, counted from both sides
	for _, h := range inv.Hosts {
		for _, g := range h.Groups {
			members[g+"\x00"+h.Name]++
		}
	}
	if len(inv.Hosts) == 0 || len(inv.Groups["all"]) != len(inv.Hosts) {
		t.Fatalf("Groups[all] = %v for %d hosts", inv.Groups["all"], len(inv.Hosts))
	}
	pos := make(map[string]int, len(inv.Hosts))
	for i, h := range inv.Hosts {
		pos[h.Name] = i
	}
	for g, names := range inv.Groups {
		last := -1
		for _, n := range names {
			i, ok := pos[n]
			if !ok || members[g+"\x00"+n] != 1 {
				t.Fatalf("Groups[%s] has %q, which is not a host in that group", g, n)
			}
			delete(members, g+"\x00"+n)
			if i <= last {
				t.Fatalf("Groups[%s] = %v is not in inventory order", g, names)
			}
			last = i
		}
	}
	for pair := range members {
		t.Fatalf("host and group %q are not in Groups", pair)
	}
	all, err := inv.Select("all")
	if err != nil || len(all) != len(inv.Hosts) {
		t.Fatalf("Select(all) = %d hosts, %v", len(all), err)
	}
}
