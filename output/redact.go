package output

import (
	"encoding/json"
	"slices"
	"strings"
	"sync"
)

// Mask is what a [Redactor] writes in place of a secret.
const Mask = "***"

// Redactor replaces registered secret strings with [Mask]. The zero value is
// ready to use and redacts nothing; a nil *Redactor is also valid and redacts
// nothing. It is safe for concurrent use.
type Redactor struct {
	mu       sync.RWMutex
	secrets  []string
	replacer *strings.Replacer
}

// NewRedactor returns a Redactor that already knows secrets.
func NewRedactor(secrets ...string) *Redactor {
	r := &Redactor{}
	r.Add(secrets...)
	return r
}

// Add registers secrets. Empty strings are ignored (they would match
// everywhere). Longer secrets win over shorter ones they contain. A secret is
// also registered in its JSON-escaped and shell-quoted forms, so it is caught
// after json.Marshal or after a template quoted it.
func (r *Redactor) Add(secrets ...string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range secrets {
		if s == "" {
			continue
		}
		for _, form := range variants(s) {
			if !slices.Contains(r.secrets, form) {
				r.secrets = append(r.secrets, form)
			}
		}
	}
	// Longest first: strings.Replacer tries old strings in argument order at
	// each position, so a secret that contains another is replaced whole.
	slices.SortStableFunc(r.secrets, func(a, b string) int { return len(b) - len(a) })
	args := make([]string, 0, 2*len(r.secrets))
	for _, s := range r.secrets {
		args = append(args, s, Mask)
	}
	r.replacer = strings.NewReplacer(args...)
}

// variants returns s and the forms it takes once escaped for JSON or quoted
// for a POSIX shell.
func variants(s string) []string {
	out := []string{s}
	if j := jsonEscape(s); j != s {
		out = append(out, j)
	}
	if strings.Contains(s, "'") {
		// Both common ways of quoting a ' inside '...': '"'"' (shell.Quote)
		// and '\''.
		out = append(out, strings.ReplaceAll(s, "'", `'"'"'`), strings.ReplaceAll(s, "'", `'\''`))
	}
	return out
}

// jsonEscape escapes s exactly as encoding/json does inside a string literal
// (with its default HTML escaping), without the surrounding quotes.
func jsonEscape(s string) string {
	b, err := json.Marshal(s)
	if err != nil || len(b) < 2 {
		return s
	}
	return string(b[1 : len(b)-1])
}

// Redact returns s with every registered secret replaced by [Mask].
func (r *Redactor) Redact(s string) string {
	if r == nil {
		return s
	}
	r.mu.RLock()
	rep := r.replacer
	r.mu.RUnlock()
	if rep == nil {
		return s
	}
	return rep.Replace(s)
}

// RedactAll redacts every string of ss in place and returns ss.
func (r *Redactor) RedactAll(ss []string) []string {
	for i := range ss {
		ss[i] = r.Redact(ss[i])
	}
	return ss
}
