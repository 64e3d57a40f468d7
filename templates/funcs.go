package templates

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig/v3"

	"github.com/ncnpush/ncnpush/shell"
)

// Names of the functions this package adds to sprig's.
const (
	FuncQ     = "q"
	FuncQJoin = "qjoin"
	FuncRaw   = "raw"
)

// removedFuncs are sprig functions a template may not call: they read the
// operator's environment or the network.
var removedFuncs = []string{"env", "expandenv", "getHostByName"}

// ErrQuote is returned (wrapped) by q and qjoin for a value they cannot quote.
var ErrQuote = errors.New("cannot quote value")

// Funcs returns the function map templates are rendered with.
func Funcs() template.FuncMap {
	fm := sprig.TxtFuncMap()
	for _, n := range removedFuncs {
		delete(fm, n)
	}
	fm[FuncQ] = q
	fm[FuncQJoin] = qjoin
	fm[FuncRaw] = raw
	return fm
}

// q quotes one scalar value for the shell.
func q(v any) (string, error) {
	s, err := scalar(v)
	if err != nil {
		return "", fmt.Errorf("q: %w", err)
	}
	return shell.Quote(s), nil
}

// qjoin quotes every element of a list and joins them with spaces.
func qjoin(list any) (string, error) {
	if list == nil {
		return "", fmt.Errorf("qjoin: %w: nil (want a list)", ErrQuote)
	}
	rv := reflect.ValueOf(list)
	if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
		return "", fmt.Errorf("qjoin: %w: %T is not a list", ErrQuote, list)
	}
	parts := make([]string, rv.Len())
	for i := range rv.Len() {
		s, err := scalar(rv.Index(i).Interface())
		if err != nil {
			return "", fmt.Errorf("qjoin: element %d: %w", i, err)
		}
		parts[i] = shell.Quote(s)
	}
	return strings.Join(parts, " "), nil
}

// raw prints v unquoted; why is the justification, checked at parse time to
// be a non-empty literal.
func raw(why string, v any) (string, error) {
	if strings.TrimSpace(why) == "" {
		return "", errors.New("raw: empty justification")
	}
	s, err := scalar(v)
	if err != nil {
		return "", fmt.Errorf("raw: %w", err)
	}
	return s, nil
}

// scalar formats a string, number or bool; anything else is an error, so
// that a list or a map is never quoted as "[a b]" or "map[...]". A string
// holding a NUL byte is an error too (no shell word can carry it).
func scalar(v any) (string, error) {
	s, err := format(v)
	if err != nil {
		return "", err
	}
	if err := shell.Validate(s); err != nil {
		return "", fmt.Errorf("%w: %w", ErrQuote, err)
	}
	return s, nil
}

func format(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", fmt.Errorf("%w: nil (a missing value?)", ErrQuote)
	case string:
		return x, nil
	case fmt.Stringer:
		return x.String(), nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.String, reflect.Bool,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return fmt.Sprint(v), nil
	case reflect.Pointer:
		if rv.IsNil() {
			return "", fmt.Errorf("%w: nil %T", ErrQuote, v)
		}
		return format(rv.Elem().Interface())
	}
	return "", fmt.Errorf("%w: %T is not a string, number or bool (use qjoin for a list)", ErrQuote, v)
}
