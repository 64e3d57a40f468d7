package phases

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/ncnpush/ncnpush/tasks"
)

// ErrRegister is matched (errors.Is) when a host's output cannot be parsed
// in the phase's register_format.
var ErrRegister = errors.New("cannot register output")

// ParseRegistered parses stdout lines in format f:
//
//   - lines: []string, one element per line.
//   - text: string, the lines joined with newlines.
//   - env: map[string]any of KEY=VALUE lines (values are strings, taken as
//     they are, without unquoting; empty lines and # comments are skipped;
//     KEY must be an identifier; a later KEY wins).
//   - json: the decoded JSON document; numbers are json.Number, so that
//     large integers (etcd revisions) keep every digit.
func ParseRegistered(f tasks.RegisterFormat, lines []string) (any, error) {
	switch f {
	case tasks.Lines, "":
		return append([]string{}, lines...), nil
	case tasks.Text:
		return strings.Join(lines, "\n"), nil
	case tasks.Env:
		m := map[string]any{}
		for i, l := range lines {
			t := strings.TrimSpace(l)
			if t == "" || strings.HasPrefix(t, "#") {
				continue
			}
			k, v, ok := strings.Cut(l, "=")
			if !ok || !tasks.IsIdentifier(k) {
				return nil, fmt.Errorf("%w: env line %d is not KEY=VALUE: %q", ErrRegister, i+1, l)
			}
			m[k] = v
		}
		return m, nil
	case tasks.JSON:
		dec := json.NewDecoder(bytes.NewReader([]byte(strings.Join(lines, "\n"))))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("%w: invalid JSON: %w", ErrRegister, err)
		}
		if err := dec.Decode(new(any)); !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: more than one JSON document", ErrRegister)
		}
		return v, nil
	}
	return nil, fmt.Errorf("%w: unknown format %q", ErrRegister, f)
}
