package tasks

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"path"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// ErrVarType is matched (errors.Is) by the errors of CheckVars: a value that
// does not have its variable's declared type.
var ErrVarType = errors.New("invalid variable value")

// Kind is the type of a task variable.
type Kind string

const (
	// String takes any value as it is (the default).
	String Kind = "string"
	// Int is a whole number, 0 or more: digits only ("120"), becoming an
	// int. Optional min and max bound it.
	Int Kind = "int"
	// Number is a decimal number, 0 or more: digits with an optional
	// fraction ("1", "0.5"), kept as its text (so that sleep gets "0.5",
	// never "5e-01"). Optional min and max bound it.
	Number Kind = "number"
	// Bool is true or false, becoming a bool.
	Bool Kind = "bool"
	// Path is an absolute path without control characters (NUL, newline...)
	// and without .. components, becoming its cleaned form (no //, no
	// trailing /, no . components).
	Path Kind = "path"
)

// Kinds lists the valid variable types.
var Kinds = []Kind{String, Int, Number, Bool, Path}

// VarType is the declared (or inferred) type of one task variable. In a
// task file, under types:, it is either a type name or a mapping with
// bounds:
//
//	types:
//	  staging_dir: path
//	  start_timeout: int
//	  count_client_port: {type: int, min: 1, max: 65535}
type VarType struct {
	Kind Kind     `yaml:"type"`
	Min  *float64 `yaml:"min,omitempty"`
	Max  *float64 `yaml:"max,omitempty"`

	// Line is where the type is declared (under types:, or the default's
	// line under vars: for an inferred type); 0 if unknown.
	Line int `yaml:"-"`
	// Inferred is set for a type taken from the YAML tag of the default
	// (!!int → int, !!float → number, !!bool → bool) rather than declared.
	Inferred bool `yaml:"-"`
}

// varTypeFields is VarType's mapping form, without the methods.
type varTypeFields struct {
	Kind Kind     `yaml:"type"`
	Min  *float64 `yaml:"min,omitempty"`
	Max  *float64 `yaml:"max,omitempty"`
}

// UnmarshalYAML reads "NAME: int" or "NAME: {type: int, min: 1}".
func (v *VarType) UnmarshalYAML(n *yaml.Node) error {
	v.Line = n.Line
	if n.Kind == yaml.ScalarNode {
		v.Kind = Kind(n.Value)
		return nil
	}
	var f varTypeFields
	if err := n.Decode(&f); err != nil {
		return err
	}
	v.Kind, v.Min, v.Max = f.Kind, f.Min, f.Max
	return nil
}

// MarshalYAML writes the short form when there are no bounds.
func (v VarType) MarshalYAML() (any, error) {
	if v.Min == nil && v.Max == nil {
		return string(v.Kind), nil
	}
	return varTypeFields{Kind: v.Kind, Min: v.Min, Max: v.Max}, nil
}

// want says in words what a value of v looks like.
func (v VarType) want() string {
	var s string
	switch v.Kind {
	case Int:
		s = "a whole number, 0 or more (digits only, e.g. 120)"
	case Number:
		s = "a number, 0 or more (digits with an optional fraction, e.g. 1 or 0.5)"
	case Bool:
		s = "true or false"
	case Path:
		s = "an absolute path without .. components or control characters"
	default:
		return "a string"
	}
	switch {
	case v.Min != nil && v.Max != nil:
		s += fmt.Sprintf(" from %s to %s", fmtBound(*v.Min), fmtBound(*v.Max))
	case v.Min != nil:
		s += " of at least " + fmtBound(*v.Min)
	case v.Max != nil:
		s += " of at most " + fmtBound(*v.Max)
	}
	return s
}

func fmtBound(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

var (
	digitsRE = regexp.MustCompile(`^[0-9]+$`)
	numberRE = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?$`)
)

// Convert checks value against v and returns it converted: an int for Int,
// the decimal text for Number, a bool for Bool, the cleaned path for Path,
// value itself for String. value may be a string (from -e) or already typed
// (a YAML default, a Go value).
func (v VarType) Convert(value any) (any, error) {
	bad := errors.New(v.want())
	switch v.Kind {
	case "", String:
		return value, nil
	case Int:
		n, ok := toInt(value)
		if !ok {
			return nil, bad
		}
		if !v.inBounds(float64(n)) {
			return nil, bad
		}
		return n, nil
	case Number:
		s, ok := toNumber(value)
		if !ok {
			return nil, bad
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || !v.inBounds(f) {
			return nil, bad
		}
		return s, nil
	case Bool:
		switch x := value.(type) {
		case bool:
			return x, nil
		case string:
			switch x {
			case "true":
				return true, nil
			case "false":
				return false, nil
			}
		}
		return nil, bad
	case Path:
		s, ok := value.(string)
		if !ok || !strings.HasPrefix(s, "/") || strings.IndexFunc(s, isControl) >= 0 ||
			slices.Contains(strings.Split(s, "/"), "..") {
			return nil, bad
		}
		return path.Clean(s), nil
	}
	return nil, fmt.Errorf("unknown type %q", v.Kind)
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

func (v VarType) inBounds(f float64) bool {
	return (v.Min == nil || f >= *v.Min) && (v.Max == nil || f <= *v.Max)
}

// toInt accepts a non-negative Go integer or a string of digits.
func toInt(value any) (int, bool) {
	if s, ok := value.(string); ok {
		if !digitsRE.MatchString(s) {
			return 0, false
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n > math.MaxInt {
			return 0, false
		}
		return int(n), true
	}
	rv := reflect.ValueOf(value)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if rv.Int() >= 0 && rv.Int() <= math.MaxInt {
			return int(rv.Int()), true
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if rv.Uint() <= math.MaxInt {
			return int(rv.Uint()), true
		}
	}
	return 0, false
}

// toNumber accepts a non-negative Go number or a decimal string, and returns
// its plain decimal text.
func toNumber(value any) (string, bool) {
	if n, ok := toInt(value); ok {
		return strconv.Itoa(n), true
	}
	var s string
	switch x := value.(type) {
	case string:
		s = x
	case float64:
		s = strconv.FormatFloat(x, 'f', -1, 64)
	case float32:
		s = strconv.FormatFloat(float64(x), 'f', -1, 32)
	default:
		return "", false
	}
	return s, numberRE.MatchString(s)
}

// inferType is the type of a variable without a types: entry, from its
// default's YAML tag: a non-negative !!int is an int, a non-negative !!float
// a number, a !!bool a bool; anything else a string.
func inferType(n *yaml.Node) VarType {
	t := VarType{Kind: String, Line: n.Line, Inferred: true}
	if n.Kind != yaml.ScalarNode {
		return t
	}
	switch n.ShortTag() {
	case "!!int":
		if !strings.HasPrefix(n.Value, "-") {
			t.Kind = Int
		}
	case "!!float":
		if numberRE.MatchString(n.Value) {
			t.Kind = Number
		}
	case "!!bool":
		t.Kind = Bool
	}
	return t
}

// VarError is a value that does not have its variable's type. It matches
// ErrVarType.
type VarError struct {
	Name  string  // the variable
	Value any     // the value given
	Type  VarType // the type it must have
	File  string  // the task file declaring the type
}

// Error formats e on one line, with the value quoted.
func (e *VarError) Error() string {
	val := fmt.Sprintf("%q", fmt.Sprint(e.Value))
	if e.Value == nil {
		val = "nothing"
	}
	decl := e.File
	if e.Type.Line > 0 {
		decl += fmt.Sprintf(":%d", e.Type.Line)
	}
	how := "declared"
	if e.Type.Inferred {
		how = "from its default"
	}
	return fmt.Sprintf("variable %s=%s: want %s (type %s, %s at %s)", e.Name, val, e.Type.want(), e.Type.Kind, how, decl)
}

// Is makes errors.Is(e, ErrVarType) true.
func (e *VarError) Is(target error) bool { return target == ErrVarType }

// CheckVars checks vars (the -e overrides: strings from the command line,
// or values set by a command) against the types t declares, and returns a
// copy with every value of a typed variable converted (see CheckVars).
func (t *Task) CheckVars(vars map[string]any) (map[string]any, error) {
	return CheckVars(vars, t)
}

// CheckVars checks vars against the variable types of every task of ts
// (the tasks one command runs) and returns a copy of vars in which the value
// of every typed variable is converted: "120" becomes the int 120, "true"
// the bool true, a path its cleaned form; a number stays a string, a string
// as it is. A variable that no task of ts declares is kept as it is: a
// command may pass variables on to other tasks, and the templates of `run`
// may use their own. A variable that more than one task declares must fit
// every declaration; the first one converts it.
//
// The error joins one *VarError (matching ErrVarType) per bad value, each
// one line naming the variable, the value, what is wanted and where the type
// is declared. Call it before connecting to any host: a bad value must stop
// the command before anything runs.
func CheckVars(vars map[string]any, ts ...*Task) (map[string]any, error) {
	out := make(map[string]any, len(vars))
	var errs []error
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		v := vars[k]
		out[k] = v
		converted := false
		for _, t := range ts {
			vt, ok := t.Types[k]
			if !ok {
				continue
			}
			c, err := vt.Convert(v)
			if err != nil {
				file := t.Origin
				if file == Builtin {
					file = "builtin:" + t.Name + ".yaml"
				}
				errs = append(errs, &VarError{Name: k, Value: v, Type: vt, File: file})
				break
			}
			if !converted {
				out[k], converted = c, true
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// checkTypes validates the types: section and the defaults of vars: against
// them, converting the defaults; varNodes are the default value nodes by
// name, for their lines and tags. Types inferred from defaults are added to
// t.Types.
func (t *Task) checkTypes(varNodes map[string]*yaml.Node, bad func(line int, where, format string, args ...any)) {
	for _, k := range slices.Sorted(maps.Keys(t.Types)) {
		vt := t.Types[k]
		w := "types." + k
		if !IsIdentifier(k) {
			bad(vt.Line, "types", "%q is not a valid variable name (letters, digits and _, not starting with a digit)", k)
			continue
		}
		if !slices.Contains(Kinds, vt.Kind) {
			bad(vt.Line, w, "unknown type %q (want one of %s)", vt.Kind, joinAny(Kinds))
			continue
		}
		if (vt.Min != nil || vt.Max != nil) && vt.Kind != Int && vt.Kind != Number {
			bad(vt.Line, w, "min and max are only for int and number (type is %s)", vt.Kind)
		}
		for _, b := range []*float64{vt.Min, vt.Max} {
			if b != nil && (*b < 0 || (vt.Kind == Int && *b != math.Trunc(*b))) {
				bad(vt.Line, w, "bound %s: want a whole number of 0 or more for int, a number of 0 or more for number", fmtBound(*b))
			}
		}
		if vt.Min != nil && vt.Max != nil && *vt.Min > *vt.Max {
			bad(vt.Line, w, "min %s is above max %s", fmtBound(*vt.Min), fmtBound(*vt.Max))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(t.Vars)) {
		n := varNodes[k]
		if _, ok := t.Types[k]; !ok && n != nil && IsIdentifier(k) {
			if t.Types == nil {
				t.Types = map[string]VarType{}
			}
			t.Types[k] = inferType(n)
		}
		vt, ok := t.Types[k]
		if !ok || !slices.Contains(Kinds, vt.Kind) {
			continue
		}
		line := 0
		if n != nil {
			line = n.Line
		}
		c, err := vt.Convert(t.Vars[k])
		if err != nil {
			bad(line, "vars."+k, "default %q: want %s (type %s)", fmt.Sprint(t.Vars[k]), vt.want(), vt.Kind)
			continue
		}
		t.Vars[k] = c
	}
}

// CheckBuiltinVars is CheckVars against the built-in tasks called names
// (the tasks one command runs, e.g. etcd-restore, etcd-rollback,
// etcd-restore-finish and k8s-heal for `etcd restore`).
func CheckBuiltinVars(vars map[string]any, names ...string) (map[string]any, error) {
	ts := make([]*Task, 0, len(names))
	for _, n := range names {
		t, err := LoadBuiltin(n)
		if err != nil {
			return nil, err
		}
		ts = append(ts, t)
	}
	return CheckVars(vars, ts...)
}
