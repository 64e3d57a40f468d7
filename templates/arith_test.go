package templates

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"text/template"
)

func TestCheckArithmetic(t *testing.T) {
	bad := map[string]string{
		"$(( ))":                "t={{ q .X }}\necho $((t + 1))\n",
		"$(( $ ))":              "t={{ q .X }}\necho $(($t + 1))\n",
		"$(( ${} ))":            "t={{ q .X }}\necho $((${t} + 1))\n",
		"(( ))":                 "t={{ q .X }}\nif ((t > 1)); then :; fi\n",
		"(( )) bare right":      "max={{ q .X }}\nn=1\n((n >= max))\n",
		"for (( ))":             "n={{ q .X }}\nfor ((i = 0; i < n; i++)); do :; done\n",
		"in subst in arith":     "t={{ q .X }}\necho $(( $(echo 1) + t ))\n",
		"arith in subst":        "t={{ q .X }}\nv=$(echo $((t)))\n",
		"arith in dquote":       "t={{ q .X }}\necho \"$((t))\"\n",
		"[[ -eq ]]":             "t={{ q .X }}\n[[ $t -eq 0 ]]\n",
		"[[ -gt ]] bare":        "t={{ q .X }}\n[[ t -gt 0 ]]\n",
		"[[ -lt ]] quoted":      "t={{ q .X }}\n[[ 1 -lt \"$t\" ]]\n",
		"[[ -ne ]] in if":       "t={{ q .X }}\nif [[ -n $t && $t -ne 0 ]]; then :; fi\n",
		"subscript":             "i={{ q .X }}\na=(1 2)\necho ${a[$i]}\n",
		"subscript bare dq":     "i={{ q .X }}\na=(1 2)\necho \"${a[i]}\"\n",
		"subscript assign":      "i={{ q .X }}\na[$i]=1\n",
		"subscript length":      "i={{ q .X }}\necho ${#a[$i]}\n",
		"substring offset":      "o={{ q .X }}\ns=abc\necho ${s:$o}\n",
		"substring length":      "o={{ q .X }}\ns=abc\necho ${s:0:o}\n",
		"indirection":           "n={{ q .X }}\necho ${!n}\n",
		"let":                   "n={{ q .X }}\nlet \"m = n + 1\"\n",
		"$[ ]":                  "t={{ q .X }}\necho $[t+1]\n",
		"declare -i":            "t={{ q .X }}\ndeclare -i n=$t\n",
		"local -i value":        "f() {\n\tlocal -i n={{ q .X }}\n}\n",
		"copy":                  "t={{ q .X }}\nu=$t\necho $((u))\n",
		"derived":               "t={{ q .X }}\nu=\"1$t\"\n((u))\n",
		"default value":         "t=${X:-{{ q .X }}}\n((t))\n",
		"for loop":              "for n in {{ qjoin .L }}; do echo $((n)); done\n",
		"array":                 "a=({{ qjoin .L }})\necho $(( ${a[0]} + 1 ))\n",
		"local":                 "f() {\n\tlocal t={{ q .X }}\n\techo $((t))\n}\n",
		"export":                "export T={{ q .X }}\necho $((T))\n",
		"heredoc":               "t={{ q .X }}\ncat <<EOF\nnext: $((t + 1))\nEOF\n",
		"second heredoc":        "t={{ q .X }}\ncat <<A\nx\nA\ncat <<B\n$((t))\nB\n",
		"same line":             "t={{ q .X }}; echo $((t))\n",
		"plus-assign":           "t=1\nt+={{ q .X }}\necho $((t))\n",
		"readonly":              "readonly t={{ q .X }}\necho $((t))\n",
		"read":                  "read -r t <<<{{ q .X }}\necho $((t))\n",
		"read from var":         "v={{ q .X }}\nread -r a t <<<\"$v\"\necho $((t))\n",
		"printf -v":             "printf -v t '%s' {{ q .X }}\necho $((t))\n",
		"nameref":               "declare -n r={{ q .X }}\n",
		"in function call":      "t={{ q .X }}\nf() { :; }\nf \"$((t))\"\n",
		"in case":               "t={{ q .X }}\ncase $((t)) in 1) ;; esac\n",
		"after subshell":        "t={{ q .X }}\n( cd / ) && echo $((t))\n",
		"in pipeline":           "t={{ q .X }}\necho | echo $((t))\n",
		"after background":      "t={{ q .X }}\nsleep 1 & echo $((t))\n",
		"check after use":       "t={{ q .X }}\necho $((t))\n[[ $t =~ ^[0-9]+$ ]] || exit 2\n",
		"check without exit":    "t={{ q .X }}\n[[ $t =~ ^[0-9]+$ ]] || echo bad\necho $((t))\n",
		"check with &&":         "t={{ q .X }}\n[[ $t =~ ^[0-9]+$ ]] && echo ok\necho $((t))\n",
		"check then line":       "t={{ q .X }}\n[[ $t =~ ^[0-9]+$ ]] || echo bad; echo $((t)); exit 2\n",
		"check other var":       "t={{ q .X }}\nu=1\n[[ $u =~ ^[0-9]+$ ]] || exit 2\necho $((t))\n",
		"regex letters":         "t={{ q .X }}\n[[ $t =~ ^[0-9a-z]+$ ]] || exit 2\necho $((t))\n",
		"regex empty":           "t={{ q .X }}\n[[ $t =~ ^[0-9]*$ ]] || exit 2\necho $((t))\n",
		"regex unanchored":      "t={{ q .X }}\n[[ $t =~ [0-9]+ ]] || exit 2\necho $((t))\n",
		"regex end only":        "t={{ q .X }}\n[[ $t =~ [0-9]+$ ]] || exit 2\necho $((t))\n",
		"regex quoted":          "t={{ q .X }}\n[[ $t =~ '^[0-9]+$' ]] || exit 2\necho $((t))\n",
		"regex sign":            "t={{ q .X }}\n[[ $t =~ ^-?[0-9]+$ ]] || exit 2\necho $((t))\n",
		"regex dot":             "t={{ q .X }}\n[[ $t =~ ^[0-9.]+$ ]] || exit 2\necho $((t))\n",
		"regex any":             "t={{ q .X }}\n[[ $t =~ ^.+$ ]] || exit 2\necho $((t))\n",
		"if guard no exit":      "t={{ q .X }}\nif [[ ! $t =~ ^[0-9]+$ ]]; then\n\techo bad\nfi\necho $((t))\n",
		"if guard exit in else": "t={{ q .X }}\nif [[ ! $t =~ ^[0-9]+$ ]]; then echo bad; else exit 1; fi\necho $((t))\n",
		"if guard not negated":  "t={{ q .X }}\nif [[ $t =~ ^[0-9]+$ ]]; then exit 1; fi\necho $((t))\n",
		"if guard nested exit":  "t={{ q .X }}\nif [[ ! $t =~ ^[0-9]+$ ]]; then\n\tif false; then exit 2; fi\nfi\necho $((t))\n",
		"check in one branch":   "t={{ q .X }}\n{{ if .C }}[[ $t =~ ^[0-9]+$ ]] || exit 2\n{{ end }}echo $((t))\n",
		"check in range":        "t={{ q .X }}\n{{ range .L }}[[ $t =~ ^[0-9]+$ ]] || exit 2\n{{ end }}echo $((t))\n",
		"assign in else":        "{{ if .C }}t=1{{ else }}t={{ q .X }}{{ end }}\necho $((t))\n",
		"value in else":         "t={{ if .C }}1{{ else }}{{ q .X }}{{ end }}\necho $((t))\n",
		"reassigned":            "t={{ q .X }}\n[[ $t =~ ^[0-9]+$ ]] || exit 2\nt={{ q .Y }}\necho $((t))\n",
		"template call value":   "{{ define \"n\" }}1{{ end }}t={{ template \"n\" . }}\necho $((t))\n",
		// A template value right inside an arithmetic context.
		"value in $(( ))":           "echo $(( {{ q .X }} + 1 ))\n",
		"value in (( ))":            "(( {{ q .X }} > 1 ))\n",
		"value in [[ -eq ]]":        "[[ {{ q .X }} -eq 1 ]]\n",
		"value in subscript":        "echo ${a[{{ q .X }}]}\n",
		"value in subscript assign": "a[{{ q .X }}]=1\n",
		"value in offset":           "echo ${s:{{ q .X }}}\n",
		"value in let":              "let n={{ q .X }}\n",
		"value in declare -i":       "declare -i n={{ q .X }}\n",
		"template call in arith":    "{{ define \"n\" }}1{{ end }}echo $(( {{ template \"n\" . }} ))\n",
	}
	for name, text := range bad {
		t.Run("bad/"+name, func(t *testing.T) {
			err := Check("t.sh.tmpl", text)
			if err == nil {
				t.Fatalf("Check accepted %q", text)
			}
			var ce *CheckError
			if !errors.Is(err, ErrUnsafe) || !errors.As(err, &ce) || !strings.HasPrefix(ce.Location, "t.sh.tmpl:") {
				t.Fatalf("error %v: want a *CheckError with a location", err)
			}
			if !strings.Contains(err.Error(), "arithmetic") && !strings.Contains(err.Error(), "subscript") &&
				!strings.Contains(err.Error(), "offset") && !strings.Contains(err.Error(), "indirect") &&
				!strings.Contains(err.Error(), "let") && !strings.Contains(err.Error(), "integer") &&
				!strings.Contains(err.Error(), "comparison") {
				t.Errorf("error %v does not say which context", err)
			}
		})
	}
	good := map[string]string{
		"check ||":                "t={{ q .X }}\n[[ $t =~ ^[0-9]+$ ]] || { echo \"bad: $t\" >&2; exit 2; }\necho $((t + 1))\n",
		"check || exit":           "t={{ q .X }}\n[[ $t =~ ^[0-9]+$ ]] || exit 2\n((t > 1))\n",
		"check || multiline":      "t={{ q .X }}\n[[ $t =~ ^[0-9]+$ ]] || {\n\techo bad >&2\n\texit 2\n}\n((t > 1))\n",
		"check if":                "t={{ q .X }}\nif [[ ! $t =~ ^[0-9]+$ ]]; then\n\techo bad >&2\n\texit 2\nfi\n((t > 1))\n",
		"check if one line":       "t={{ q .X }}\nif [[ ! $t =~ ^[0-9]+$ ]]; then echo bad >&2; exit 2; fi\n[[ $t -gt 1 ]]\n",
		"check braces":            "t={{ q .X }}\n[[ ${t} =~ ^[0-9]+$ ]] || exit 2\necho ${a[t]} ${s:t} ${a[$t]}\n",
		"check quoted var":        "t={{ q .X }}\n[[ \"$t\" =~ ^[0-9]+$ ]] || exit 2\nlet \"u = t\"\n",
		"regex no leading zero":   "t={{ q .X }}\n[[ $t =~ ^(0|[1-9][0-9]*)$ ]] || exit 2\necho $((t))\n",
		"regex bounded":           "t={{ q .X }}\n[[ $t =~ ^[1-9][0-9]{0,4}$ ]] || exit 2\necho $((t))\n",
		"regex class":             "t={{ q .X }}\n[[ $t =~ ^[[:digit:]]+$ ]] || exit 2\necho $((t))\n",
		"copy of checked":         "t={{ q .X }}\n[[ $t =~ ^[0-9]+$ ]] || exit 2\nu=$t\necho $((u))\n",
		"checked in every branch": "{{ if .C }}t={{ q .X }}\n[[ $t =~ ^[0-9]+$ ]] || exit 2\n{{ else }}t=5\n{{ end }}echo $((t))\n",
		"check in both branches":  "t={{ q .X }}\n{{ if .C }}[[ $t =~ ^[0-9]+$ ]] || exit 2\n{{ else }}[[ $t =~ ^[0-9]{1,3}$ ]] || exit 3\n{{ end }}echo $((t))\n",
		"reassigned literal":      "t={{ q .X }}\nt=5\necho $((t))\n",
		"command output":          "n=$(systemctl show -p NRestarts --value etcd)\necho $((n + 1))\n",
		"command using value":     "n=$(wc -l <{{ q .F }})\necho $((n))\n",
		"function output":         "restarts() { echo 0; }\nr0=$(restarts)\ncrashed=$(($(restarts) - r0))\n",
		"value as a string":       "t={{ q .X }}\nsleep \"$t\"\necho \"${t}s\" $t\n[[ $t == 1 || $t != 2 ]]\n",
		"length":                  "t={{ q .X }}\necho $(( ${#t} + 1 ))\n",
		"whole array":             "a=({{ qjoin .L }})\necho \"${a[@]}\" ${#a[@]} ${a[*]}\n",
		"single quotes":           "t={{ q .X }}\necho '$((t))'\n",
		"comment":                 "t={{ q .X }}\n# $((t)) and [[ $t -eq 1 ]]\n",
		"quoted heredoc":          "t={{ q .X }}\ncat <<'EOF'\n$((t))\nEOF\n",
		"escaped":                 "t={{ q .X }}\necho \\$((t))\n",
		"raw":                     `echo $(( {{ raw "integer, validated by int" (int .N) }} + 1 ))` + "\n",
		"raw assigned":            "n={{ raw \"integer, validated by int\" (int .N) }}\necho $((n))\n",
		"other variables":         "t={{ q .X }}\ni=0\necho $((i + SECONDS)) ${a[i]}\n",
		"redirections":            "t={{ q .X }}\n[[ $t =~ ^[0-9]+$ ]] || { echo bad 1>&2; exit 2; }\necho $((t)) &>/dev/null\n",
		"param default literal":   "echo ${X:-{{ q .Y }}}\n",
		"read other":              "read -r n <<<\"$(wc -l </etc/passwd)\"\necho $((n))\n",
		"check || exit same line": "t={{ q .X }}; [[ $t =~ ^[0-9]+$ ]] || exit 2; echo $((t))\n",
		"mode arithmetic":         "st=$(stat -c '%u %a' -- /)\nmode=$((8#${st##* }))\nif (((mode & 8#022) != 0)); then :; fi\n",
	}
	for name, text := range good {
		t.Run("good/"+name, func(t *testing.T) {
			if err := Check("t.sh.tmpl", text); err != nil {
				t.Fatalf("Check rejected %q: %v", text, err)
			}
		})
	}
}

func TestCheckArithmeticMessage(t *testing.T) {
	err := Check("etcd-start.sh.tmpl", "hold=/x\ntimeout_s={{ q .Vars.start_timeout }}\n\ndeadline=$((SECONDS + timeout_s))\n")
	if err == nil {
		t.Fatal("accepted")
	}
	var ce *CheckError
	if !errors.As(err, &ce) || ce.Template != "etcd-start.sh.tmpl" || ce.Location != "etcd-start.sh.tmpl:4" || ce.Action != "$timeout_s" {
		t.Fatalf("error %#v", ce)
	}
	for _, want := range []string{
		"etcd-start.sh.tmpl:4: $timeout_s: holds a template value (assigned on line 2)",
		"arithmetic", "[[ $timeout_s =~ ^[0-9]+$ ]] || {",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	err = Check("t.sh.tmpl", "echo ok\necho $(( {{ q .Vars.n }} ))\n")
	if err == nil || !strings.Contains(err.Error(), "t.sh.tmpl:2:") || !strings.Contains(err.Error(), "{{q .Vars.n}}") ||
		!strings.Contains(err.Error(), "template value inside arithmetic") {
		t.Errorf("direct value: %v", err)
	}
	// One error per use, not per template branch that reaches it.
	err = Check("t.sh.tmpl", "t={{ q .X }}\n{{ if .A }}a=1\n{{ end }}echo $((t))\n")
	if err == nil || strings.Count(err.Error(), "$t:") != 1 {
		t.Errorf("want one error, got %v", err)
	}
}

func TestIsDigitsRegex(t *testing.T) {
	for re, want := range map[string]bool{
		"^[0-9]+$": true, "^(0|[1-9][0-9]*)$": true, "^[1-9][0-9]{0,4}$": true, "^[[:digit:]]+$": true, "^0$": true,
		"^[0-9]*$": false, "^[0-9]+": false, "[0-9]+$": false, "^[0-9a]+$": false, "^\\d+$": false, "^$": false,
		"^[^a-z]+$": false, "^(0|)$": false, "^[0-9]+$|^x$": false, "'^[0-9]+$'": false, "^[0-9]+$$": false, "^[0-9+]+$": false,
		"^[0-9]+\n$": false, "^[0-9]+$x": false, "^$x$": false,
	} {
		if got := isDigitsRegex(re); got != want {
			t.Errorf("isDigitsRegex(%q) = %v, want %v", re, got, want)
		}
	}
}

// TestNumberCheckStopsArithmetic proves the issue and the fix on bash: a
// quoted value runs a command in arithmetic, and the number check each
// built-in template makes before its arithmetic stops it (exit 2) first.
func TestNumberCheckStopsArithmetic(t *testing.T) {
	hostile := func(marker string) string { return "BASH_VERSINFO[$(touch " + marker + ")0]" }
	// Without a check (bypassing Check), the quoted value runs.
	marker := filepath.Join(t.TempDir(), "x")
	tmpl := template.Must(template.New("bad").Funcs(Funcs()).Parse("t={{ q .V }}\necho $((SECONDS + t)) >/dev/null\n"))
	var b strings.Builder
	if err := tmpl.Execute(&b, map[string]any{"V": hostile(marker)}); err != nil {
		t.Fatal(err)
	}
	_ = exec.Command("bash", "-c", b.String()).Run()
	if _, err := os.Stat(marker); err != nil {
		t.Fatalf("the hostile value did not run without a check (%v): this test proves nothing", err)
	}

	set, err := New("")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ tmpl, v string }{
		{"etcd-start.sh.tmpl", "start_timeout"},
		{"etcd-start.sh.tmpl", "start_max_restarts"},
		{"etcd-count-keys.sh.tmpl", "count_timeout"},
		{"backup-push-dest.sh.tmpl", "dump_size"},
	} {
		t.Run(c.tmpl+"/"+c.v, func(t *testing.T) {
			marker := filepath.Join(t.TempDir(), "x")
			data := goldenData()
			data["Vars"].(map[string]any)[c.v] = hostile(marker)
			script, err := set.Render(c.tmpl, data)
			if err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("bash", "-euo", "pipefail", "-s")
			cmd.Stdin = strings.NewReader(script)
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 2 {
				t.Fatalf("bash = %v, want exit status 2 from the number check; output:\n%s", err, out)
			}
			if _, err := os.Stat(marker); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("%s exists: the value ran", marker)
			}
			if !strings.Contains(string(out), c.v+" must be a whole number") {
				t.Errorf("output does not name %s:\n%s", c.v, out)
			}
		})
	}
}

// FuzzCheck: Check never panics, whatever the template text.
func FuzzCheck(f *testing.F) {
	set, err := New("")
	if err != nil {
		f.Fatal(err)
	}
	for _, n := range set.List() {
		src, _ := set.Source(n)
		f.Add(src.Text)
	}
	for _, s := range []string{
		"t={{ q .X }}\n[[ $t =~ ^[0-9]+$ ]] || exit 2\necho $((t))\n",
		"a=({{ qjoin .L }})\necho ${a[${i}]} ${s:{{ q .X }}} ${!x} $[1]\n",
		"cat <<EOF\n$((x)) ${a[1} $((\nEOF\n",
		"if [[ ! $t =~ ^(0|[1-9][0-9]*)$ ]]; then exit 2; fi\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		_ = Check("f.sh.tmpl", text)
	})
}
