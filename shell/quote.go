// Package shell turns arbitrary values into words that a POSIX shell (bash on
// the master nodes) reads back unchanged. Quote is the one function through
// which every value reaches a shell: templates expose it as `q`, and code that
// builds command lines uses Quote or Join.
package shell

import (
	"errors"
	"fmt"
	"strings"
)

// ErrNUL is the reason Quote panics and Validate fails: a NUL byte cannot be
// part of a shell word (the kernel passes arguments and environment strings as
// NUL-terminated C strings, and bash drops NUL bytes from its input), so no
// quoting could make such a value arrive intact.
var ErrNUL = errors.New("value contains a NUL byte, which a shell word cannot hold")

// Validate reports whether s can be quoted: it returns an error wrapping
// ErrNUL when s contains a NUL byte, and nil otherwise. Call it on untrusted
// input before Quote to get an error instead of a panic.
func Validate(s string) error {
	if i := strings.IndexByte(s, 0); i >= 0 {
		return fmt.Errorf("shell: byte %d: %w", i, ErrNUL)
	}
	return nil
}

// Quote returns s as a single shell word that bash (or any POSIX shell) reads
// back as exactly s, with no expansion of any kind:
//
//   - the empty string becomes two single quotes, the shell's empty word
//   - a string made only of [A-Za-z0-9_@%+=:,./-] is returned unchanged
//   - anything else is wrapped in single quotes, and each ' inside becomes
//     '"'"' (close the quote, a double-quoted ', reopen the quote)
//
// Newlines, $, backticks, globs, backslashes, non-ASCII and invalid UTF-8 all
// travel literally inside single quotes.
//
// Quote panics with an error wrapping ErrNUL if s contains a NUL byte, because
// silently dropping or truncating a value that is about to reach a shell on a
// production node is worse than failing. text/template turns a panicking
// function into an execution error, so templates that use `q` fail cleanly;
// other callers that handle untrusted input should call Validate first.
func Quote(s string) string {
	if err := Validate(s); err != nil {
		panic(err)
	}
	if s == "" {
		return "''"
	}
	if isSafe(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'"'"'`) + "'"
}

// Join quotes each argument with Quote and joins them with single spaces, so
// that the shell splits the result back into exactly args. Join() is "".
// Like Quote, it panics if an argument contains a NUL byte.
func Join(args ...string) string {
	quoted := make([]string, len(args))
	for i, a := range args {
		quoted[i] = Quote(a)
	}
	return strings.Join(quoted, " ")
}

// isSafe reports whether every byte of s is in [A-Za-z0-9_@%+=:,./-], the
// characters that have no special meaning to the shell in any position.
func isSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("_@%+=:,./-", c) >= 0:
		default:
			return false
		}
	}
	return true
}
