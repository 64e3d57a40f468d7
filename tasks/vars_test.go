package tasks

import (
	"errors"
	"strings"
	"testing"

	"github.com/ncnpush/ncnpush/templates"
)

const typedYAML = `name: typed
vars:
  timeout: 120
  delay: 0.5
  verbose: false
  dir: /var/tmp/x/
  token: "007"
  port: "2379"
types:
  dir: path
  port: {type: int, min: 1, max: 65535}
  delay: number
  data: path
phases:
  - {title: T, template: a.sh.tmpl}
`

func TestVarTypes(t *testing.T) {
	task, err := Parse("typed.yaml", []byte(typedYAML))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Kind{"timeout": Int, "delay": Number, "verbose": Bool, "dir": Path, "token": String, "port": Int, "data": Path}
	for k, kind := range want {
		if got := task.Types[k].Kind; got != kind {
			t.Errorf("type of %s = %q, want %q", k, got, kind)
		}
	}
	if len(task.Types) != len(want) {
		t.Errorf("types = %v", task.Types)
	}
	if vt := task.Types["timeout"]; !vt.Inferred || vt.Line != 3 {
		t.Errorf("timeout: %+v, want inferred from line 3", vt)
	}
	if vt := task.Types["port"]; vt.Inferred || vt.Line != 11 || *vt.Min != 1 || *vt.Max != 65535 {
		t.Errorf("port: %+v", vt)
	}
	// Defaults are converted like -e values.
	for k, v := range map[string]any{"timeout": 120, "delay": "0.5", "verbose": false, "dir": "/var/tmp/x", "token": "007", "port": 2379} {
		if task.Vars[k] != v {
			t.Errorf("default %s = %#v, want %#v", k, task.Vars[k], v)
		}
	}
	if _, ok := task.Vars["data"]; ok {
		t.Errorf("a type without a default made a default: %v", task.Vars)
	}
}

func TestVarTypesInvalid(t *testing.T) {
	cases := map[string]struct{ src, want string }{
		"unknown type":         {"types:\n  x: integer\n", `t.yaml:2: types.x: unknown type "integer" (want one of string, int, number, bool, path)`},
		"unknown type long":    {"types:\n  x: {type: duration}\n", `t.yaml:2: types.x: unknown type "duration"`},
		"bounds on path":       {"types:\n  x: {type: path, min: 1}\n", `t.yaml:2: types.x: min and max are only for int and number`},
		"min above max":        {"types:\n  x: {type: int, min: 5, max: 1}\n", `t.yaml:2: types.x: min 5 is above max 1`},
		"fraction bound":       {"types:\n  x: {type: int, max: 1.5}\n", `t.yaml:2: types.x: bound 1.5`},
		"bad name":             {"types:\n  1x: int\n", `t.yaml:2: types: "1x" is not a valid variable name`},
		"default not int":      {"vars:\n  x: 12s\ntypes:\n  x: int\n", `t.yaml:2: vars.x: default "12s": want a whole number`},
		"default relative":     {"vars:\n  x: var/tmp\ntypes:\n  x: path\n", `t.yaml:2: vars.x: default "var/tmp": want an absolute path`},
		"default dotdot":       {"vars:\n  x: /var/../etc\ntypes:\n  x: path\n", `t.yaml:2: vars.x: default "/var/../etc"`},
		"default out of range": {"vars:\n  x: 0\ntypes:\n  x: {type: int, min: 1}\n", `t.yaml:2: vars.x: default "0": want a whole number, 0 or more (digits only, e.g. 120) of at least 1`},
		"default not bool":     {"vars:\n  x: yes\ntypes:\n  x: bool\n", `t.yaml:2: vars.x: default "yes": want true or false`},
		"default float int":    {"vars:\n  x: 1.5\ntypes:\n  x: int\n", `vars.x: default "1.5"`},
		"default exponent":     {"vars:\n  x: 1e8\n", ``},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Parse("t.yaml", []byte(c.src+"phases: [{title: T, template: a.sh.tmpl}]\n"))
			if name == "default exponent" {
				// 1e8 is not a plain decimal: a string, not a number.
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error\n%s\ndoes not contain\n%s", err, c.want)
			}
		})
	}
	_, err := Parse("t.yaml", []byte("types:\n  x: {type: int, mni: 1}\nphases: [{title: T, template: a.sh.tmpl}]\n"))
	if !errors.Is(err, ErrUnknownKey) || !strings.Contains(err.Error(), `t.yaml:2:18: types.x: unknown key "mni" (did you mean "min"?)`) {
		t.Errorf("unknown key in a type: %v", err)
	}
	_, err = Parse("t.yaml", []byte("types:\n  x: {type: int, min: many}\nphases: [{title: T, template: a.sh.tmpl}]\n"))
	if !errors.Is(err, ErrSyntax) || !strings.HasPrefix(err.Error(), "t.yaml:2:") {
		t.Errorf("bad bound: %v", err)
	}
}

func TestCheckVars(t *testing.T) {
	task, err := Parse("typed.yaml", []byte(typedYAML))
	if err != nil {
		t.Fatal(err)
	}
	good := map[string]struct {
		in   any
		want any
	}{
		"timeout": {"0120", 120},
		"delay":   {"1.25", "1.25"},
		"verbose": {"true", true},
		"dir":     {"/srv//ncnpush/./x/", "/srv/ncnpush/x"},
		"port":    {"65535", 65535},
		"token":   {"a[$(touch /tmp/x)0]", "a[$(touch /tmp/x)0]"},
		"data":    {"/", "/"},
		"other":   {"anything; $(x)", "anything; $(x)"},
	}
	for k, c := range good {
		got, err := task.CheckVars(map[string]any{k: c.in})
		if err != nil {
			t.Errorf("%s=%q: %v", k, c.in, err)
			continue
		}
		if got[k] != c.want {
			t.Errorf("%s=%q: got %#v, want %#v", k, c.in, got[k], c.want)
		}
	}
	// Typed Go values (a command's own flags) pass too.
	if got, err := task.CheckVars(map[string]any{"verbose": true, "timeout": int64(5), "delay": 2}); err != nil ||
		got["verbose"] != true || got["timeout"] != 5 || got["delay"] != "2" {
		t.Errorf("typed values: %v, %v", got, err)
	}
	bad := map[string]any{
		"timeout": "BASH_VERSINFO[$(touch /tmp/x)0]",
		"delay":   "1e3",
		"verbose": "yes",
		"dir":     "/var/lib/../../etc",
		"port":    "0",
		"data":    "relative/dir",
	}
	for k, v := range bad {
		_, err := task.CheckVars(map[string]any{k: v})
		if !errors.Is(err, ErrVarType) {
			t.Errorf("%s=%q: err = %v, want ErrVarType", k, v, err)
		}
	}
	for _, v := range []any{"120s", "-1", "", " 120", "12 0", "99999999999999999999999", -1, 1.5, "1\n2"} {
		if _, err := task.CheckVars(map[string]any{"timeout": v}); !errors.Is(err, ErrVarType) {
			t.Errorf("timeout=%#v accepted", v)
		}
	}
	for _, v := range []string{"/a\x00b", "/a\nb", "/a/..", "../a", ""} {
		if _, err := task.CheckVars(map[string]any{"dir": v}); !errors.Is(err, ErrVarType) {
			t.Errorf("dir=%q accepted", v)
		}
	}
	_, err = task.CheckVars(map[string]any{"timeout": "120s", "dir": "x", "fine": "1"})
	var ve *VarError
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v, want *VarError", err)
	}
	msg := err.Error()
	for _, want := range []string{
		`variable dir="x": want an absolute path without .. components or control characters (type path, declared at typed.yaml:10)`,
		`variable timeout="120s": want a whole number, 0 or more (digits only, e.g. 120) (type int, from its default at typed.yaml:3)`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error\n%s\ndoes not contain\n%s", msg, want)
		}
	}
	if strings.Count(msg, "\n") != 1 {
		t.Errorf("want one line per bad variable:\n%s", msg)
	}
	// A hostile value stays on one line.
	_, err = task.CheckVars(map[string]any{"timeout": "1\n$(reboot)"})
	if err == nil || strings.Contains(err.Error(), "\n") {
		t.Errorf("err = %q", err)
	}
}

func TestCheckVarsSeveralTasks(t *testing.T) {
	a, err := Parse("a.yaml", []byte("vars: {n: 1}\nphases: [{title: T, template: a.sh.tmpl}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Parse("b.yaml", []byte("types: {p: path, n: {type: int, max: 5}}\nphases: [{title: T, template: a.sh.tmpl}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := CheckVars(map[string]any{"n": "3", "p": "/x/", "q": "free"}, a, b)
	if err != nil || got["n"] != 3 || got["p"] != "/x" || got["q"] != "free" {
		t.Fatalf("CheckVars = %v, %v", got, err)
	}
	// Every declaration must hold.
	if _, err := CheckVars(map[string]any{"n": "7"}, a, b); !errors.Is(err, ErrVarType) || !strings.Contains(err.Error(), "b.yaml:1") {
		t.Errorf("n=7: %v", err)
	}
	if got, err := CheckVars(nil); err != nil || len(got) != 0 {
		t.Errorf("CheckVars(nil) = %v, %v", got, err)
	}
}

// TestBuiltinVarTypes: every built-in variable has a type, a variable that
// several built-in tasks declare has the same type in each, and the etcd
// restore's numbers and paths are typed as such.
func TestBuiltinVarTypes(t *testing.T) {
	list, err := List()
	if err != nil {
		t.Error(err) // TestBuiltins says more; check the tasks that load
	}
	seen := map[string]VarType{}
	where := map[string]string{}
	for _, task := range list {
		for k := range task.Vars {
			if _, ok := task.Types[k]; !ok {
				t.Errorf("%s: variable %s has no type", task.Name, k)
			}
		}
		for k, vt := range task.Types {
			if prev, ok := seen[k]; ok && (prev.Kind != vt.Kind || prev.want() != vt.want()) {
				t.Errorf("%s is %s (%s) in %s but %s (%s) in %s", k, prev.Kind, prev.want(), where[k], vt.Kind, vt.want(), task.Name)
			}
			seen[k], where[k] = vt, task.Name
		}
	}
	restore, err := LoadBuiltin("etcd-restore")
	if err != nil {
		t.Fatal(err)
	}
	for k, kind := range map[string]Kind{
		"start_timeout": Int, "start_max_restarts": Int, "leader_stop_delay": Number, "bump_amount": Int,
		"count_client_port": Int, "count_peer_port": Int, "count_timeout": Int,
		"staging_dir": Path, "data_dir": Path, "lock_file": Path, "pki_dir": Path, "kubeadm_config": Path, "hold_dropin": Path,
		"cluster_token": String,
	} {
		if vt := restore.Types[k]; vt.Kind != kind || vt.Inferred {
			t.Errorf("etcd-restore: %s is %+v, want declared %s", k, vt, kind)
		}
	}
	// The lab's typo: refused before anything runs.
	_, err = CheckVars(map[string]any{"start_timeout": "120s"}, restore)
	if !errors.Is(err, ErrVarType) || !strings.Contains(err.Error(), "start_timeout") {
		t.Errorf("start_timeout=120s: %v", err)
	}
}

func TestCheckBuiltinVars(t *testing.T) {
	got, err := CheckBuiltinVars(map[string]any{"start_timeout": "300", "request_timeout": "30", "mine": "x"}, "etcd-restore", "k8s-heal")
	if err != nil || got["start_timeout"] != 300 || got["request_timeout"] != 30 || got["mine"] != "x" {
		t.Fatalf("CheckBuiltinVars = %v, %v", got, err)
	}
	// k8s heal's variable is checked too: etcd restore runs the heal.
	if _, err := CheckBuiltinVars(map[string]any{"request_timeout": "20s"}, "etcd-restore", "k8s-heal"); !errors.Is(err, ErrVarType) ||
		!strings.Contains(err.Error(), "builtin:k8s-heal.yaml:") {
		t.Errorf("request_timeout=20s: %v", err)
	}
	if _, err := CheckBuiltinVars(nil, "no-such-task"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown task: %v", err)
	}
}

// TestCheckVarsRender: converted values render as the templates expect; a
// "false" from -e no longer passes {{ if }} as a non-empty string.
func TestCheckVarsRender(t *testing.T) {
	task, err := Parse("t.yaml", []byte("vars: {verify: false, n: 1, dir: /tmp}\ntypes: {dir: path}\nphases: [{title: T, template: a.sh.tmpl}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	set, err := templates.NewFromSources(templates.Source{Name: "a.sh.tmpl",
		Text: "n={{ q .Vars.n }} dir={{ q .Vars.dir }}{{ if .Vars.verify }} verify{{ end }}\n"})
	if err != nil {
		t.Fatal(err)
	}
	vars, err := task.CheckVars(map[string]any{"verify": "false", "n": "007", "dir": "/var//tmp/"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := set.Render("a.sh.tmpl", map[string]any{"Vars": vars})
	if err != nil || got != "n=7 dir=/var/tmp\n" {
		t.Errorf("render = %q, %v", got, err)
	}
}
