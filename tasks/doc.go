// Package tasks reads task files: what ncnpush runs, as data.
//
// A task is a YAML file naming an ordered list of phases; each phase runs one
// shell template (package templates) on a set of hosts with a strategy:
//
//	name: hello
//	description: say hello on every master
//	vars: {greeting: hello, delay: 5, dir: /var/tmp}  # defaults, overridden by -e key=value
//	types:                           # optional: each variable's type
//	  dir: path
//	  delay: {type: int, min: 1, max: 60}
//	phases:
//	  - title: Gather facts
//	    template: hostinfo.sh.tmpl
//	    hosts: masters               # group or host pattern; default "all"
//	    strategy: parallel           # parallel (--forks), serial, once, batch
//	    batch: 0                     # hosts per batch, with strategy: batch
//	    readonly: true               # safe to run under --dry-run
//	    register: info               # keep each host's stdout for later phases
//	    register_format: env         # lines (default), json, env or text
//	    ignore_errors: false         # a failure does not stop the task
//	    quiet: false                 # do not echo stdout lines live
//
// Variables are typed: string (any value, the default), int (a whole number,
// 0 or more), number (a decimal, 0 or more: 0.5), bool (true or false) or
// path (absolute, no .. components, no control characters; cleaned). A
// variable without a types: entry takes its type from its default's YAML
// tag (120 is an int, 0.5 a number, true a bool, anything else a string);
// int and number may have min and max. Defaults are checked when the file
// is read (an unknown type is an error naming its line), and CheckVars
// checks and converts the -e values before a command connects to any host,
// so that a typo such as -e start_timeout=120s stops the command at once
// instead of failing in the middle of a restore.
//
// Decoding is strict: an unknown key, a duplicate key or a value of the
// wrong type is an error naming the file, line and column. Built-in tasks are
// embedded in the binary (tasks/*.yaml); a user task is loaded by path.
package tasks
