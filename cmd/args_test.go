package cmd

import (
	"slices"
	"testing"
)

func TestInterspersedMovesFlagsBeforeArguments(t *testing.T) {
	app := NewApp()
	for _, tc := range []struct{ in, want []string }{
		{[]string{"ncnpush", "run", "-i", "inv", "task.yaml", "--templates", "dir", "-e", "k=v", "--dry-run"},
			[]string{"ncnpush", "run", "-i", "inv", "--templates", "dir", "-e", "k=v", "--dry-run", "task.yaml"}},
		{[]string{"ncnpush", "templates", "show", "x.sh.tmpl", "--templates=dir"},
			[]string{"ncnpush", "templates", "show", "--templates=dir", "x.sh.tmpl"}},
		// exec's command line after -- is never touched.
		{[]string{"ncnpush", "exec", "-i", "inv", "--", "ls", "-l", "--forks", "3"},
			[]string{"ncnpush", "exec", "-i", "inv", "--", "ls", "-l", "--forks", "3"}},
		{[]string{"ncnpush", "--version"}, []string{"ncnpush", "--version"}},
		{[]string{"ncnpush", "nosuch", "a", "-x"}, []string{"ncnpush", "nosuch", "a", "-x"}},
	} {
		if got := interspersed(app, tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("interspersed(%q)\n got %q\nwant %q", tc.in, got, tc.want)
		}
	}
}
