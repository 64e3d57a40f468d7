package tasks

import (
	"errors"
	"fmt"
	"github.com/ncnpush/ncnpush/internal/suggest"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Builtin is the Origin of a task embedded in the binary.
const Builtin = "builtin"

// Sentinel errors, matched with errors.Is.
var (
	// ErrNotFound: no built-in task has that name, or the file is missing.
	ErrNotFound = errors.New("task not found")
	// ErrSyntax: the file is not valid YAML, or a value has the wrong type.
	ErrSyntax = errors.New("task syntax error")
	// ErrUnknownKey: a key the task format does not define.
	ErrUnknownKey = errors.New("unknown task key")
	// ErrInvalid: a value that is well-formed but not allowed (an unknown
	// strategy, a batch without a size, a template that does not exist).
	ErrInvalid = errors.New("invalid task")
)

// Strategy says how a phase runs across its hosts.
type Strategy string

const (
	// Parallel runs every host at once, at most --forks at a time.
	Parallel Strategy = "parallel"
	// Serial runs hosts one after another in inventory order, stopping at the
	// first failure.
	Serial Strategy = "serial"
	// Once runs on the first selected host only.
	Once Strategy = "once"
	// Batch runs Batch hosts at a time in parallel, batch after batch,
	// stopping after a batch with a failure.
	Batch Strategy = "batch"
)

// Strategies lists the valid strategies.
var Strategies = []Strategy{Parallel, Serial, Once, Batch}

// RegisterFormat says how a registered stdout is parsed.
type RegisterFormat string

const (
	// Lines registers a list of strings, one per line ([]string).
	Lines RegisterFormat = "lines"
	// JSON registers the decoded JSON value (map[string]any for an object).
	JSON RegisterFormat = "json"
	// Env registers KEY=VALUE lines as a map[string]any of strings; empty
	// lines and lines starting with # are skipped, values are taken as is
	// (no unquoting).
	Env RegisterFormat = "env"
	// Text registers the whole output as one string, without its final
	// newline.
	Text RegisterFormat = "text"
)

// RegisterFormats lists the valid register formats.
var RegisterFormats = []RegisterFormat{Lines, JSON, Env, Text}

// DefaultHosts is the host pattern of a phase that names none.
const DefaultHosts = "all"

// Task is a parsed task file.
type Task struct {
	// Name identifies the task (the file name without .yaml if the file
	// does not say).
	Name string `yaml:"name"`
	// Description is one line for `ncnpush tasks`.
	Description string `yaml:"description"`
	// Vars are default variables, overridden by inventory host vars and by
	// -e key=value.
	Vars map[string]any `yaml:"vars"`
	// Types are the variables' types (see VarType and CheckVars): declared
	// under types:, or inferred from the default's YAML tag for a variable
	// without one. A type may be declared for a variable without a default.
	Types map[string]VarType `yaml:"types"`
	// Phases run in order.
	Phases []Phase `yaml:"phases"`

	// Origin is Builtin or the path the task was loaded from.
	Origin string `yaml:"-"`
}

// Phase is one step of a task: a template run on hosts.
type Phase struct {
	// Title is shown in the phase header and the report.
	Title string `yaml:"title"`
	// Template is the template file name, e.g. "exec.sh.tmpl". A phase has
	// a template or an action, not both.
	Template string `yaml:"template"`
	// Action names a phase written in Go, for what a template cannot do
	// (streaming from S3, deciding from every host's facts, asking the
	// operator). The program running the task registers its actions by name
	// (phases.Env.Actions); a task naming an unknown action is refused before
	// anything runs.
	Action string `yaml:"action"`
	// Hosts is a group name or host pattern; DefaultHosts when empty.
	Hosts string `yaml:"hosts"`
	// Strategy is how the hosts run; Parallel when empty.
	Strategy Strategy `yaml:"strategy"`
	// Batch is the batch size for the Batch strategy (and must be 0
	// otherwise).
	Batch int `yaml:"batch"`
	// ReadOnly marks a phase that changes nothing: it runs for real under
	// --dry-run, so later phases render with real facts.
	ReadOnly bool `yaml:"readonly"`
	// Register, if set, stores each host's stdout under this name for later
	// phases (.Facts.NAME and .Self.NAME). It must be an identifier.
	Register string `yaml:"register"`
	// RegisterFormat is how stdout is parsed; Lines when empty.
	RegisterFormat RegisterFormat `yaml:"register_format"`
	// IgnoreErrors makes host failures not fail the phase.
	IgnoreErrors bool `yaml:"ignore_errors"`
	// Quiet stops stdout lines from being echoed live (stderr still is).
	Quiet bool `yaml:"quiet"`

	// Line is where the phase starts in its file (0 if unknown).
	Line int `yaml:"-"`
}

// Error is a task error tied to a place in a file: "file:line:col: path:
// message".
type Error struct {
	File string // the file path, or "builtin:NAME.yaml"
	Line int    // 1-based, 0 when unknown
	Col  int    // 1-based, 0 when unknown
	Path string // where in the document, e.g. "phases[1].strategy"
	Msg  string // what is wrong
	Kind error  // the sentinel: ErrSyntax, ErrUnknownKey, ErrInvalid, ErrNotFound
}

// Error formats e.
func (e *Error) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc += fmt.Sprintf(":%d", e.Line)
		if e.Col > 0 {
			loc += fmt.Sprintf(":%d", e.Col)
		}
	}
	if e.Path != "" {
		return fmt.Sprintf("%s: %s: %s", loc, e.Path, e.Msg)
	}
	return loc + ": " + e.Msg
}

// Is matches the sentinel of e.
func (e *Error) Is(target error) bool { return target == e.Kind }

var identRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// IsIdentifier reports whether s can be used as a register or variable name
// (a Go template field name: letters, digits and _, not starting with a
// digit).
func IsIdentifier(s string) bool { return identRE.MatchString(s) }

// Load loads a task: a path (anything containing a path separator or ending
// in .yaml or .yml) is read from disk; anything else names a built-in task.
func Load(nameOrPath string) (*Task, error) {
	if strings.ContainsRune(nameOrPath, os.PathSeparator) || strings.Contains(nameOrPath, "/") ||
		strings.HasSuffix(nameOrPath, ".yaml") || strings.HasSuffix(nameOrPath, ".yml") {
		return LoadFile(nameOrPath)
	}
	return LoadBuiltin(nameOrPath)
}

// LoadFile parses the task file at path.
func LoadFile(p string) (*Task, error) {
	data, err := os.ReadFile(p)
	if err != nil {
		kind := ErrSyntax
		if errors.Is(err, fs.ErrNotExist) {
			kind = ErrNotFound
		}
		return nil, fmt.Errorf("load task %s: %w: %w", p, kind, err)
	}
	t, err := Parse(p, data)
	if err != nil {
		return nil, err
	}
	t.Origin = p
	return t, nil
}

// LoadBuiltin returns the built-in task called name.
func LoadBuiltin(name string) (*Task, error) {
	data, err := builtinFS.ReadFile(name + ".yaml")
	if err != nil {
		return nil, fmt.Errorf("load task %q: %w (built-in tasks: %s; a path loads a task file)",
			name, ErrNotFound, strings.Join(builtinNames(), ", "))
	}
	t, err := Parse("builtin:"+name+".yaml", data)
	if err != nil {
		return nil, err
	}
	t.Origin = Builtin
	return t, nil
}

// List returns the built-in tasks, sorted by name.
func List() ([]*Task, error) {
	var out []*Task
	var errs []error
	for _, n := range builtinNames() {
		t, err := LoadBuiltin(n)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, t)
	}
	return out, errors.Join(errs...)
}

func builtinNames() []string {
	ents, _ := fs.Glob(builtinFS, "*.yaml")
	names := make([]string, 0, len(ents))
	for _, e := range ents {
		names = append(names, strings.TrimSuffix(e, ".yaml"))
	}
	slices.Sort(names)
	return names
}

// Parse decodes and checks a task file's content; file names it in errors
// and gives the task its default name. Defaults are filled in (hosts "all",
// strategy parallel, register_format lines). The error joins every problem.
func Parse(file string, data []byte) (*Task, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, syntaxError(file, err)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, &Error{File: file, Msg: "empty task file", Kind: ErrInvalid}
	}
	root := doc.Content[0]
	if errs := checkKeys(file, root, reflect.TypeFor[Task](), ""); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	var t Task
	if err := root.Decode(&t); err != nil {
		return nil, syntaxError(file, err)
	}
	if ph := mapValue(root, "phases"); ph != nil && ph.Kind == yaml.SequenceNode {
		for i, n := range ph.Content {
			if i < len(t.Phases) {
				t.Phases[i].Line = n.Line
			}
		}
	}
	varNodes := map[string]*yaml.Node{}
	if vn := mapValue(root, "vars"); vn != nil && vn.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(vn.Content); i += 2 {
			varNodes[vn.Content[i].Value] = vn.Content[i+1]
		}
	}
	if t.Name == "" {
		t.Name = strings.TrimSuffix(strings.TrimSuffix(path.Base(filepath.ToSlash(file)), ".yaml"), ".yml")
	}
	t.Origin = file
	t.setDefaults()
	if err := t.check(file, varNodes); err != nil {
		return nil, err
	}
	return &t, nil
}

var yamlLineRE = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// syntaxError turns a yaml.v3 error into one or more *Error with lines.
func syntaxError(file string, err error) error {
	var msgs []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	var errs []error
	for _, m := range msgs {
		e := &Error{File: file, Msg: strings.TrimPrefix(m, "yaml: "), Kind: ErrSyntax}
		if sm := yamlLineRE.FindStringSubmatch(m); sm != nil {
			fmt.Sscan(sm[1], &e.Line)
			e.Msg = sm[2]
		}
		errs = append(errs, e)
	}
	return errors.Join(errs...)
}

// mapValue returns the value node of key in mapping n, or nil.
func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// checkKeys reports every mapping key of n not defined by struct type t (by
// yaml tag), recursing into struct and []struct fields.
func checkKeys(file string, n *yaml.Node, t reflect.Type, where string) []error {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n == nil {
		return nil
	}
	switch t.Kind() {
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode || t.Elem().Kind() != reflect.Struct {
			return nil // Decode reports the type mismatch
		}
		var errs []error
		for i, c := range n.Content {
			errs = append(errs, checkKeys(file, c, t.Elem(), fmt.Sprintf("%s[%d]", where, i))...)
		}
		return errs
	case reflect.Map:
		if n.Kind != yaml.MappingNode || t.Elem().Kind() != reflect.Struct {
			return nil
		}
		var errs []error
		for i := 0; i+1 < len(n.Content); i += 2 {
			errs = append(errs, checkKeys(file, n.Content[i+1], t.Elem(), where+"."+n.Content[i].Value)...)
		}
		return errs
	case reflect.Struct:
	default:
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return nil
	}
	fields := map[string]reflect.Type{}
	var names []string
	for f := range t.Fields() {
		tag, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if tag == "" || tag == "-" {
			continue
		}
		fields[tag] = f.Type
		names = append(names, tag)
	}
	var errs []error
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		ft, ok := fields[k.Value]
		if !ok {
			msg := fmt.Sprintf("unknown key %q", k.Value)
			if s := suggest.Closest(k.Value, names); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			} else {
				msg += " (known keys: " + strings.Join(names, ", ") + ")"
			}
			errs = append(errs, &Error{File: file, Line: k.Line, Col: k.Column, Path: strings.TrimPrefix(where, "."), Msg: msg, Kind: ErrUnknownKey})
			continue
		}
		errs = append(errs, checkKeys(file, v, ft, where+"."+k.Value)...)
	}
	return errs
}

// setDefaults fills in omitted phase settings.
func (t *Task) setDefaults() {
	for i := range t.Phases {
		p := &t.Phases[i]
		if p.Hosts == "" {
			p.Hosts = DefaultHosts
		}
		if p.Strategy == "" {
			p.Strategy = Parallel
		}
		if p.Register != "" && p.RegisterFormat == "" {
			p.RegisterFormat = Lines
		}
	}
}

// check validates everything that does not need the template set;
// varNodes are the value nodes of vars:, by name.
func (t *Task) check(file string, varNodes map[string]*yaml.Node) error {
	var errs []error
	bad := func(line int, where, format string, args ...any) {
		errs = append(errs, &Error{File: file, Line: line, Path: where, Msg: fmt.Sprintf(format, args...), Kind: ErrInvalid})
	}
	if !IsIdentifier(strings.ReplaceAll(t.Name, "-", "_")) {
		bad(0, "name", "%q is not a valid task name (letters, digits, - and _)", t.Name)
	}
	for k := range t.Vars {
		if !IsIdentifier(k) {
			line := 0
			if n := varNodes[k]; n != nil {
				line = n.Line
			}
			bad(line, "vars", "%q is not a valid variable name (letters, digits and _, not starting with a digit)", k)
		}
	}
	t.checkTypes(varNodes, bad)
	if len(t.Phases) == 0 {
		bad(0, "phases", "a task needs at least one phase")
	}
	for i, p := range t.Phases {
		w := fmt.Sprintf("phases[%d]", i)
		if strings.TrimSpace(p.Title) == "" {
			bad(p.Line, w+".title", "missing")
		}
		switch {
		case p.Template == "" && p.Action == "":
			bad(p.Line, w+".template", "missing (a phase needs a template or an action)")
		case p.Template != "" && p.Action != "":
			bad(p.Line, w+".action", "a phase has a template or an action, not both")
		case p.Action != "":
			if !IsIdentifier(strings.ReplaceAll(p.Action, "-", "_")) {
				bad(p.Line, w+".action", "%q is not a valid action name", p.Action)
			}
		case !strings.HasSuffix(p.Template, ".sh.tmpl") || strings.ContainsAny(p.Template, `/\`):
			bad(p.Line, w+".template", "%q is not a template file name (NAME.sh.tmpl)", p.Template)
		}
		if !slices.Contains(Strategies, p.Strategy) {
			bad(p.Line, w+".strategy", "unknown strategy %q (want one of %s)", p.Strategy, joinAny(Strategies))
		}
		switch {
		case p.Strategy == Batch && p.Batch <= 0:
			bad(p.Line, w+".batch", "strategy batch needs batch: N with N > 0")
		case p.Strategy != Batch && p.Batch != 0:
			bad(p.Line, w+".batch", "batch is only used with strategy: batch (strategy is %s)", p.Strategy)
		}
		if p.Register != "" && !IsIdentifier(p.Register) {
			bad(p.Line, w+".register", "%q is not a valid name (letters, digits and _, not starting with a digit)", p.Register)
		}
		if p.Register == "" && p.RegisterFormat != "" {
			bad(p.Line, w+".register_format", "set without register")
		}
		if p.RegisterFormat != "" && !slices.Contains(RegisterFormats, p.RegisterFormat) {
			bad(p.Line, w+".register_format", "unknown format %q (want one of %s)", p.RegisterFormat, joinAny(RegisterFormats))
		}
	}
	return errors.Join(errs...)
}

func joinAny[T ~string](vs []T) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = string(v)
	}
	return strings.Join(s, ", ")
}

// TemplateSet is what Validate needs of a template set; *templates.Set
// satisfies it.
type TemplateSet interface {
	Has(name string) bool
	List() []string
}

// Validate checks t against the templates it will run with: every phase's
// template must exist.
func (t *Task) Validate(ts TemplateSet) error {
	var errs []error
	for i, p := range t.Phases {
		if p.Action == "" && !ts.Has(p.Template) {
			errs = append(errs, &Error{File: t.Origin, Line: p.Line, Path: fmt.Sprintf("phases[%d].template", i),
				Msg: fmt.Sprintf("template %q does not exist (have: %s)", p.Template, strings.Join(ts.List(), ", ")), Kind: ErrInvalid})
		}
	}
	return errors.Join(errs...)
}
