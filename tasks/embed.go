package tasks

import "embed"

// builtinFS holds the built-in task files.
//
//go:embed *.yaml
var builtinFS embed.FS
