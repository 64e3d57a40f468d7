package templates

import "embed"

// builtinFS holds the built-in templates.
//
//go:embed *.sh.tmpl
var builtinFS embed.FS
