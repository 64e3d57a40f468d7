// Package tasks reads task files: what ncnpush runs, as data.
//
// A task is a YAML file naming an ordered list of phases; each phase runs one
// shell template (package templates) on a set of hosts with a strategy:
//
//	name: hello
//	description: say hello on every master
//	vars: {greeting: hello}          # defaults, overridden by -e key=value
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
// Decoding is strict: an unknown key, a duplicate key or a value of the
// wrong type is an error naming the file, line and column. Built-in tasks are
// embedded in the binary (tasks/*.yaml); a user task is loaded by path.
package tasks
