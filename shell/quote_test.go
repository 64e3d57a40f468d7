package shell

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
	"text/template"
)

// goldenQuotes pins the exact output of Quote.
var goldenQuotes = []struct{ in, want string }{
	{"", "''"},
	{"abc", "abc"},
	{"ABC_xyz-09", "ABC_xyz-09"},
	{"/usr/bin/x_y-z.1:2,3@4%5+6=7", "/usr/bin/x_y-z.1:2,3@4%5+6=7"},
	{"-rf", "-rf"},
	{"KEY=value", "KEY=value"},
	{"a b", "'a b'"},
	{"a'b; $(touch /tmp/x)", `'a'"'"'b; $(touch /tmp/x)'`},
	{"'", `''"'"''`},
	{"''", `''"'"''"'"''`},
	{"it's", `'it'"'"'s'`},
	{"line1\nline2", "'line1\nline2'"},
	{"\n", "'\n'"},
	{"trailing\n", "'trailing\n'"},
	{"a\tb\rc", "'a\tb\rc'"},
	{"$HOME", "'$HOME'"},
	{"${HOME:-x}", "'${HOME:-x}'"},
	{"`id`", "'`id`'"},
	{"$(id)", "'$(id)'"},
	{"*", "'*'"},
	{"*.sh", "'*.sh'"},
	{"[ab]", "'[ab]'"},
	{"{a,b}", "'{a,b}'"},
	{"~", "'~'"},
	{"~root", "'~root'"},
	{"#comment", "'#comment'"},
	{"!", "'!'"},
	{"a;b", "'a;b'"},
	{"a|b&c", "'a|b&c'"},
	{"a>b<c", "'a>b<c'"},
	{`back\slash`, `'back\slash'`},
	{`"double"`, `'"double"'`},
	{"héllo", "'héllo'"},
	{"日本語", "'日本語'"},
	{"\xff\xfe", "'\xff\xfe'"},
}

func TestQuoteGolden(t *testing.T) {
	for _, tc := range goldenQuotes {
		if got := Quote(tc.in); got != tc.want {
			t.Errorf("Quote(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestJoinGolden(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want string
	}{
		{nil, ""},
		{[]string{""}, "''"},
		{[]string{"echo", "a b", "", "it's"}, `echo 'a b' '' 'it'"'"'s'`},
		{[]string{"rm", "-f", "--", "/tmp/x y"}, "rm -f -- '/tmp/x y'"},
	} {
		if got := Join(tc.in...); got != tc.want {
			t.Errorf("Join(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestQuoteNUL(t *testing.T) {
	for _, s := range []string{"\x00", "a\x00b", "abc\x00"} {
		if err := Validate(s); !errors.Is(err, ErrNUL) {
			t.Errorf("Validate(%q) = %v, want ErrNUL", s, err)
		}
		func() {
			defer func() {
				r := recover()
				err, ok := r.(error)
				if !ok || !errors.Is(err, ErrNUL) {
					t.Errorf("Quote(%q) panicked with %v, want an error wrapping ErrNUL", s, r)
				}
			}()
			Quote(s)
			t.Errorf("Quote(%q) did not panic", s)
		}()
	}
	if err := Validate("no nul here\n"); err != nil {
		t.Errorf("Validate: %v", err)
	}
}

// TestQuoteInTemplate pins that a NUL reaching Quote through text/template
// becomes an execution error, not a crash.
func TestQuoteInTemplate(t *testing.T) {
	tmpl := template.Must(template.New("x").Funcs(template.FuncMap{"q": Quote}).Parse("echo {{q .}}"))
	var b strings.Builder
	if err := tmpl.Execute(&b, "a'b"); err != nil || b.String() != `echo 'a'"'"'b'` {
		t.Fatalf("got %q, %v", b.String(), err)
	}
	if err := tmpl.Execute(&b, "a\x00b"); err == nil || !strings.Contains(err.Error(), "NUL") {
		t.Fatalf("template with NUL value: err = %v, want NUL error", err)
	}
}

// bashPath returns bash or fails the test: the round trip needs a real shell.
func bashPath(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("bash")
	if err != nil {
		t.Fatalf("bash is required for the round-trip tests: %v", err)
	}
	return p
}

// roundTrip has bash print Quote(v) with printf %s and returns what it printed.
func roundTrip(t testing.TB, bash, v string) string {
	t.Helper()
	out, err := exec.Command(bash, "-c", "printf %s "+Quote(v)).Output()
	if err != nil {
		t.Fatalf("bash -c printf %%s %s: %v", Quote(v), err)
	}
	return string(out)
}

func TestQuoteRoundTripBash(t *testing.T) {
	bash := bashPath(t)
	values := []string{
		"-n", "-e", "--", "--help", "%s", "%d%%", `\n`, `\\`, "a\\", "'a'", `"a"`,
		"multi\nline\n\n", "  leading and trailing  ", "\t", "\r\n", "\x01\x02\x1b[31m",
		"$((1+1))", "$'\\x41'", "<(id)", "a && b || c", "a\\\nb", "${!x}", "!!", "^x^y",
		strings.Repeat("x'", 500), strings.Repeat("é", 300),
	}
	for _, tc := range goldenQuotes {
		values = append(values, tc.in)
	}
	for _, v := range values {
		if got := roundTrip(t, bash, v); got != v {
			t.Errorf("round trip of %q through bash gave %q (quoted %s)", v, got, Quote(v))
		}
	}
}

func TestJoinRoundTripBash(t *testing.T) {
	bash := bashPath(t)
	args := []string{"", "a b", "it's", "$HOME", "*", "x\ny", "-n", "é"}
	out, err := exec.Command(bash, "-c", `printf '%s\0' `+Join(args...)).Output()
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	if strings.Join(got, "|") != strings.Join(args, "|") || len(got) != len(args) {
		t.Fatalf("bash split Join(%q) into %q", args, got)
	}
}

// quotePanic returns what Quote(v) panics with, or nil.
func quotePanic(f func()) (r any) {
	defer func() { r = recover() }()
	f()
	return nil
}

// checkNUL checks the contract for a value with a NUL byte: Validate fails
// with ErrNUL, Quote and Join panic with an error wrapping ErrNUL.
func checkNUL(t *testing.T, v string) {
	t.Helper()
	if err := Validate(v); !errors.Is(err, ErrNUL) {
		t.Fatalf("Validate(%q) = %v, want ErrNUL", v, err)
	}
	for name, fn := range map[string]func(){"Quote": func() { Quote(v) }, "Join": func() { Join("x", v) }} {
		err, ok := quotePanic(fn).(error)
		if !ok || !errors.Is(err, ErrNUL) {
			t.Fatalf("%s(%q) panicked with %v, want an error wrapping ErrNUL", name, v, err)
		}
	}
}

// bashOut runs script with bash -c (no shell in between) in the C locale
// with an empty environment otherwise, and returns its stdout.
func bashOut(t *testing.T, bash, script string) string {
	t.Helper()
	cmd := exec.Command(bash, "-c", script)
	cmd.Env = []string{"LC_ALL=C", "PATH=/usr/bin:/bin"}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("bash -c %q: %v", script, err)
	}
	return string(out)
}

// injectionSeeds are values of issue 8's shell injection cases: node names,
// backup names and -e variables as a hostile inventory or user would write
// them.
var injectionSeeds = []string{
	"ncn-m001'; touch /tmp/pwned; '", "$(reboot)", "`reboot`", "ncn-m001\nreboot", "x\\'; reboot; #",
	"etcd-backup-2020-02-04-18-50-03$(id).tar.gz", "bare-metal/etcd-backup-2020-02-04-18-50-03.tar.gz",
	"--data-dir=/var/lib/etcd; rm -rf /", "a\n'\n\"", "$'\\x27'", "'\"'\"'", "\\'", "${IFS}reboot",
	"\xe2\x80\xae\x27", "\x85\xa0", "\xff'\xfe",
}

// FuzzQuote: for every value without NUL, `bash -c 'printf %s '"$quoted"`
// prints the value exactly, both in the C locale and in C.UTF-8 (bash reads
// multibyte input differently); a safe value is returned unchanged and any
// other quoted; a value with NUL fails Validate and makes Quote panic with
// ErrNUL, as documented. The seeds are testdata/fuzz/FuzzQuote plus the
// golden values.
func FuzzQuote(f *testing.F) {
	for _, tc := range goldenQuotes {
		f.Add(tc.in)
	}
	for _, s := range injectionSeeds {
		f.Add(s)
	}
	bash := bashPath(f)
	f.Fuzz(func(t *testing.T, v string) {
		if strings.IndexByte(v, 0) >= 0 {
			checkNUL(t, v)
			return
		}
		if err := Validate(v); err != nil {
			t.Fatalf("Validate(%q) = %v", v, err)
		}
		q := Quote(v)
		if safe := v != "" && isSafe(v); (q == v) != safe {
			t.Fatalf("Quote(%q) = %q: safe %v", v, q, safe)
		}
		if q != v && (q[0] != '\'' || q[len(q)-1] != '\'') {
			t.Fatalf("Quote(%q) = %q is not single-quoted", v, q)
		}
		// The second command is parsed after LC_ALL changed (bash -c parses
		// one command at a time); the fixed NUL separates the two outputs.
		script := "printf %s " + q + "\nprintf '\\0'\nLC_ALL=C.UTF-8\nprintf %s " + q
		out := bashOut(t, bash, script)
		c, utf8, ok := strings.Cut(out, "\x00")
		if !ok || c != v || utf8 != v {
			t.Fatalf("round trip of %q through bash gave %q (C) and %q (C.UTF-8); quoted %s", v, c, utf8, q)
		}
	})
}

// FuzzJoin: bash splits Join(a, b, a) back into exactly three words a, b, a.
func FuzzJoin(f *testing.F) {
	f.Add("", "")
	f.Add("-n", "a b")
	f.Add("ncn-m001'; touch /tmp/pwned; '", "$(reboot)")
	f.Add("it's", "\n")
	bash := bashPath(f)
	f.Fuzz(func(t *testing.T, a, b string) {
		for _, v := range []string{a, b} {
			if strings.IndexByte(v, 0) >= 0 {
				checkNUL(t, v)
				return
			}
		}
		j := Join(a, b, a)
		out := bashOut(t, bash, `printf '%s\0' `+j)
		want := a + "\x00" + b + "\x00" + a + "\x00"
		if out != want {
			t.Fatalf("bash split Join(%q, %q, %q) = %s into %q", a, b, a, j, strings.Split(out, "\x00"))
		}
	})
}
