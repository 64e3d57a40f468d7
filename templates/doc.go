// Package templates holds ncnpush's shell templates and renders them.
//
// A template is a file named NAME.sh.tmpl: a bash script written in Go's
// text/template language, with sprig's functions and three of its own. The
// built-in templates are embedded in the binary; a directory given with
// --templates may override any of them (same file name) or add new ones.
//
// # Quoting is enforced
//
// Every value that reaches the shell goes through q, which is shell.Quote:
//
//	etcdctl --name {{ q .Host.Name }} snapshot restore {{ q .Vars.snapshot }}
//	for m in {{ qjoin .Vars.members }}; do ...
//
// This is not a convention but a check made when a template is loaded (see
// [Check]); a template that breaks it is rejected before anything runs:
//
//   - An action that prints something ({{ ... }} without a variable
//     declaration) must end its pipeline with q or qjoin: {{ .X }},
//     {{ .X | upper }} and {{ printf "%s" .X }} are rejected; {{ .X | q }},
//     {{ q .X }}, {{ .X | upper | q }} and {{ $x := .X }} are accepted.
//   - The action must stand where a quoted word is a word: in plain shell
//     code or inside $(...), `...` or an unquoted ${...}; not inside '...',
//     "...", $'...', a comment, a here-document body or a here-document
//     delimiter, and not right after a backslash or a $. A quoted value
//     inside double quotes or a here-document would not be protected:
//     "$(...)" in the value would run. Write "$x" style code around a
//     variable assigned from a quoted value instead:
//     name={{ q .Host.Name }}; echo "node: ${name}".
//   - Branches of if/with/range must leave the shell in the same quoting
//     state, so that the check holds whichever branch runs.
//
// # Numbers in arithmetic
//
// q does not protect a value that bash evaluates as arithmetic: the value
// of a variable used in $((...)), ((...)), let, declare -i, an operand of
// [[ ... -eq/-ne/-lt/-le/-gt/-ge ... ]], an array subscript ${a[...]}, a
// substring offset ${v:offset} or an indirection ${!v} is itself evaluated
// as an expression, and a[$(cmd)] in it runs cmd. So a shell variable
// assigned from a template value (x={{ q .Vars.x }}, and any variable copied
// or built from it) and used in such a context is rejected unless a number
// check ran between the assignment and the use:
//
//	timeout={{ q .Vars.timeout }}
//	[[ $timeout =~ ^[0-9]+$ ]] || { echo "timeout must be a whole number, got: $timeout" >&2; exit 2; }
//	deadline=$((SECONDS + timeout))
//
// or if [[ ! $timeout =~ ^[0-9]+$ ]]; then ... exit ...; fi. The regex must
// be unquoted, anchored with ^ and $, and match only non-empty strings of
// digits (^[0-9]+$, ^(0|[1-9][0-9]*)$, ^[1-9][0-9]{0,4}$...). A template
// value written directly in such a context is rejected too. Values that
// commands print (n=$(systemctl show ...)) are not template values. The
// check follows the template's {{if}}, {{with}} and {{range}} branches (a
// check counts after them only if every branch made it), not the shell's
// own control flow, nor values passed to shell functions as arguments; raw
// values are not followed (see below). Task variables are typed as well
// (package tasks): a value for an int variable is refused before ncnpush
// connects anywhere; the template check is the second line of defence.
//
// The one escape hatch is raw, whose first argument is the justification, a
// non-empty string literal, kept in the template next to the use:
//
//	sleep {{ raw "integer from the task file, validated by int" (int .Vars.delay) }}
//
// raw prints its value as is, anywhere. Prefer q: bash accepts quoted numbers
// almost everywhere (sleep '5'), except in arithmetic.
//
// # Functions
//
// All of sprig's text functions except env, expandenv and getHostByName (a
// template must not read the operator's environment, where credentials live,
// nor resolve names), plus:
//
//   - q VALUE: VALUE (string, number or bool) single-quoted for a POSIX
//     shell. nil, lists and maps are errors.
//   - qjoin LIST: every element quoted with q, joined by spaces (nothing for
//     an empty list).
//   - raw JUSTIFICATION VALUE: VALUE unquoted (see above).
//
// Rendering uses the option missingkey=error: a key missing from a map (a
// variable, a fact) is an error that names the template and the key, never
// an empty string.
package templates
