// Package output is everything ncnpush shows to a person or a program: live
// per-host output lines ("host | line"), phase headers, transfer progress
// bars, the final summary table, the JSON report for -o json, and slog
// loggers.
//
// Two rules hold everywhere in this package:
//
//   - Every log line carries a host attribute (host=- when a line is about no
//     host in particular): see [Logger] and [NewHandler].
//   - Every string written passes through a [Redactor], so that a secret
//     registered once (an S3 secret key, a password) never reaches a terminal,
//     a log file or a JSON report.
//
// With -o json, stdout must hold exactly one JSON document ([WriteJSON]):
// the caller then points the [Printer] (and any [Progress]) at stderr, or
// gives a nil *Printer to suppress human output altogether.
//
// A run that changes nodes also keeps a [RunLog] (everything it prints,
// redacted, without colours, and its report beside it) and writes the
// terminal through a [Terminal], which neither fails nor blocks the run when
// the terminal goes away (SIGHUP) or stops reading. Given a [Tee] (cmd's
// console), a Printer and a Progress write the terminal and the log apart.
//
// Writers are safe for concurrent use: hosts running in parallel write whole
// lines under one mutex, so lines from different hosts never interleave
// within a line.
package output
