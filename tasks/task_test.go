package tasks

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ncnpush/ncnpush/templates"
)

const helloYAML = `name: hello
description: say hello on every master
vars: {greeting: hello}
phases:
  - title: Gather facts
    template: hostinfo.sh.tmpl
    hosts: masters
    strategy: parallel
    readonly: true
    register: facts
    register_format: env
  - title: Say hello
    template: hello.sh.tmpl
    strategy: batch
    batch: 2
`

func TestParse(t *testing.T) {
	task, err := Parse("hello.yaml", []byte(helloYAML))
	if err != nil {
		t.Fatal(err)
	}
	if task.Name != "hello" || task.Vars["greeting"] != "hello" || len(task.Phases) != 2 {
		t.Fatalf("task = %+v", task)
	}
	p0, p1 := task.Phases[0], task.Phases[1]
	if p0.Hosts != "masters" || !p0.ReadOnly || p0.Register != "facts" || p0.RegisterFormat != Env || p0.Line != 5 {
		t.Errorf("phase 0 = %+v", p0)
	}
	if p1.Hosts != DefaultHosts || p1.Strategy != Batch || p1.Batch != 2 || p1.Line != 12 {
		t.Errorf("phase 1 = %+v (defaults not applied?)", p1)
	}
}

func TestParseDefaults(t *testing.T) {
	task, err := Parse("dir/my-task.yml", []byte("phases:\n  - {title: T, template: x.sh.tmpl, register: out}\n"))
	if err != nil {
		t.Fatal(err)
	}
	p := task.Phases[0]
	if task.Name != "my-task" || p.Hosts != "all" || p.Strategy != Parallel || p.RegisterFormat != Lines {
		t.Errorf("defaults: name %q, phase %+v", task.Name, p)
	}
}

func TestUnknownKey(t *testing.T) {
	src := strings.Replace(helloYAML, "    strategy: parallel\n", "    stratgy: parallel\n", 1)
	src = strings.Replace(src, "vars:", "varz: {}\nvars:", 1)
	_, err := Parse("hello.yaml", []byte(src))
	if !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("err = %v, want ErrUnknownKey", err)
	}
	msg := err.Error()
	for _, want := range []string{
		`hello.yaml:9:5: phases[0]: unknown key "stratgy" (did you mean "strategy"?)`,
		`hello.yaml:3:1: unknown key "varz" (did you mean "vars"?)`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error\n%s\ndoes not contain\n%s", msg, want)
		}
	}
}

func TestSyntaxErrors(t *testing.T) {
	cases := map[string]string{
		"type":      "name: x\nphases:\n  - title: T\n    template: x.sh.tmpl\n    batch: many\n",
		"duplicate": "name: x\nname: y\nphases: []\n",
		"yaml":      "name: [\n",
		"not a map": "- a\n- b\n",
	}
	for name, src := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Parse("t.yaml", []byte(src))
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("err = %v, want ErrSyntax", err)
			}
			if !strings.HasPrefix(err.Error(), "t.yaml:") {
				t.Errorf("err %q does not start with the file name", err)
			}
		})
	}
	_, err := Parse("t.yaml", []byte(cases["type"]))
	if !strings.HasPrefix(err.Error(), "t.yaml:5:") {
		t.Errorf("type error %q lacks its line", err)
	}
}

func TestInvalid(t *testing.T) {
	cases := map[string]string{
		"no phases":         "name: x\n",
		"bad strategy":      "phases: [{title: T, template: a.sh.tmpl, strategy: rolling}]",
		"batch no size":     "phases: [{title: T, template: a.sh.tmpl, strategy: batch}]",
		"size no batch":     "phases: [{title: T, template: a.sh.tmpl, batch: 3}]",
		"bad register":      "phases: [{title: T, template: a.sh.tmpl, register: my-facts}]",
		"format alone":      "phases: [{title: T, template: a.sh.tmpl, register_format: json}]",
		"bad format":        "phases: [{title: T, template: a.sh.tmpl, register: r, register_format: xml}]",
		"no title":          "phases: [{template: a.sh.tmpl}]",
		"no template":       "phases: [{title: T}]",
		"template path":     "phases: [{title: T, template: ../a.sh.tmpl}]",
		"template not tmpl": "phases: [{title: T, template: a.sh}]",
		"bad var":           "vars: {1x: a}\nphases: [{title: T, template: a.sh.tmpl}]",
		"empty":             "",
	}
	for name, src := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Parse("t.yaml", []byte(src))
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
		})
	}
}

func TestValidateTemplates(t *testing.T) {
	set, err := templates.New("")
	if err != nil {
		t.Fatal(err)
	}
	task, err := Parse("t.yaml", []byte("phases:\n  - {title: T, template: nope.sh.tmpl}\n"))
	if err != nil {
		t.Fatal(err)
	}
	err = task.Validate(set)
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), `t.yaml:2: phases[0].template: template "nope.sh.tmpl" does not exist`) {
		t.Fatalf("Validate = %v", err)
	}
}

func TestBuiltins(t *testing.T) {
	set, err := templates.New("")
	if err != nil {
		t.Fatal(err)
	}
	list, err := List()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) < 4 {
		t.Fatalf("List() = %d tasks", len(list))
	}
	for _, task := range list {
		if task.Origin != Builtin || task.Description == "" {
			t.Errorf("%s: origin %q, description %q", task.Name, task.Origin, task.Description)
		}
		if err := task.Validate(set); err != nil {
			t.Errorf("%s: %v", task.Name, err)
		}
		got, err := Load(task.Name)
		if err != nil || got.Name != task.Name {
			t.Errorf("Load(%q) = %v, %v", task.Name, got, err)
		}
	}
	if _, err := Load("no-such-task"); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "exec") {
		t.Errorf("Load(no-such-task) = %v, want ErrNotFound listing built-ins", err)
	}
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "mine.yaml")
	if err := os.WriteFile(p, []byte(helloYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	task, err := Load(p)
	if err != nil || task.Origin != p || task.Name != "hello" {
		t.Fatalf("Load(%s) = %+v, %v", p, task, err)
	}
	if _, err := Load(filepath.Join(dir, "missing.yaml")); !errors.Is(err, ErrNotFound) {
		t.Errorf("Load(missing) = %v, want ErrNotFound", err)
	}
}
