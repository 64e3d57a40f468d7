package inventory

import (
	"errors"
	"fmt"
	typo "github.com/ncnpush/ncnpush/internal/suggest"
	"strings"
)

// Sentinel errors. Every error returned by this package wraps one of them, so
// callers can branch with errors.Is. Parse errors are *Error values whose
// message names the file and line.
var (
	// ErrUnreadable means the inventory file could not be read.
	ErrUnreadable = errors.New("inventory unreadable")
	// ErrUnknownFormat means the format could not be detected, or an unknown
	// format name was requested.
	ErrUnknownFormat = errors.New("unknown inventory format")
	// ErrSyntax means the file is not well-formed YAML or INI, or a value has
	// the wrong shape (a list where a mapping belongs, and so on).
	ErrSyntax = errors.New("inventory syntax error")
	// ErrUnknownKey means a key that the format does not define.
	ErrUnknownKey = errors.New("unknown inventory key")
	// ErrDuplicateHost means a host defined or listed twice in the same place.
	ErrDuplicateHost = errors.New("duplicate host")
	// ErrUnknownHost means a group lists a host that the inventory does not
	// define (native format).
	ErrUnknownHost = errors.New("unknown host")
	// ErrUnknownGroup means a reference to a group that is never defined.
	ErrUnknownGroup = errors.New("unknown group")
	// ErrEmptyGroup means a declared group without hosts (native format).
	ErrEmptyGroup = errors.New("empty group")
	// ErrNoHosts means the inventory defines no host at all.
	ErrNoHosts = errors.New("inventory has no hosts")
	// ErrBadName means an invalid host or group name, including a bad host
	// range such as ncn-m[3:1] and a group named like a host.
	ErrBadName = errors.New("invalid host or group name")
	// ErrBadValue means an invalid value, such as a port out of range or a
	// templated ansible_host.
	ErrBadValue = errors.New("invalid inventory value")
	// ErrCycle means groups that contain each other through children.
	ErrCycle = errors.New("group cycle")
	// ErrNoMatch means a host pattern that selects no host.
	ErrNoMatch = errors.New("no host matches")
	// ErrBadPattern means a host pattern that cannot be parsed.
	ErrBadPattern = errors.New("invalid host pattern")
)

// Error is an inventory error tied to a place in a file. Its message reads
// like "inventory.yaml:12: unknown key "adress" in host ncn-m001".
type Error struct {
	File string // the path given to Load, or the name given to Parse
	Line int    // 1-based line; 0 when the error concerns the whole file
	Msg  string // what is wrong, without file and line
	Kind error  // the sentinel error, one of the Err* variables
	Err  error  // the underlying cause, if any (for example an *fs.PathError)
}

// Error returns "file:line: message", or "file: message" without a line.
func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return e.File + ": " + e.Msg
}

// Unwrap returns the sentinel and the underlying cause, for errors.Is and
// errors.As.
func (e *Error) Unwrap() []error {
	errs := make([]error, 0, 2)
	for _, err := range []error{e.Kind, e.Err} {
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// source names the file being parsed and builds located errors.
type source struct {
	file string
}

// errf returns an *Error of the given kind at line (clamped to at least 1, so
// that every parse error names a line).
func (s source) errf(line int, kind error, format string, args ...any) error {
	return &Error{File: s.file, Line: max(line, 1), Msg: fmt.Sprintf(format, args...), Kind: kind}
}

// suggest returns ` (did you mean "x"?)` for the candidate closest to word, or
// "" if none is close enough to be a likely typo.
func suggest(word string, candidates []string) string {
	best := typo.Closest(word, candidates)
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// quoteList renders names as `"a", "b" or "c"` for messages, with conj
// ("or", "and") before the last one. Long lists are cut short.
func quoteList(names []string, conj string) string {
	const most = 6
	q := make([]string, 0, min(len(names), most))
	for _, n := range names[:min(len(names), most)] {
		q = append(q, fmt.Sprintf("%q", n))
	}
	switch {
	case len(names) > most:
		return strings.Join(q, ", ") + " and others"
	case len(q) < 2:
		return strings.Join(q, "")
	}
	return strings.Join(q[:len(q)-1], ", ") + " " + conj + " " + q[len(q)-1]
}
