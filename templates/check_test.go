package templates

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckRejectsUnquoted(t *testing.T) {
	bad := map[string]string{
		"bare field":             "echo {{ .X }}\n",
		"bare variable":          "{{ $x := .X }}echo {{ $x }}\n",
		"pipeline ending upper":  "echo {{ .X | q | upper }}\n",
		"printf":                 `echo {{ printf "%s" .X }}` + "\n",
		"constant":               `echo {{ "hi" }}` + "\n",
		"index":                  `echo {{ index .M "k" }}` + "\n",
		"inside define":          `{{ define "x" }}echo {{ .X }}{{ end }}echo ok` + "\n",
		"inside if":              "{{ if .X }}echo {{ .X }}{{ end }}\n",
		"inside range":           "{{ range .L }}echo {{ . }}\n{{ end }}",
		"raw without reason":     "sleep {{ raw .N }}\n",
		"raw empty reason":       `sleep {{ raw "  " .N }}` + "\n",
		"raw reason not literal": "sleep {{ raw .Why .N }}\n",
	}
	for name, text := range bad {
		t.Run(name, func(t *testing.T) {
			err := Check("t.sh.tmpl", text)
			if err == nil {
				t.Fatalf("Check accepted %q", text)
			}
			if !errors.Is(err, ErrUnsafe) {
				t.Fatalf("error %v does not match ErrUnsafe", err)
			}
			var ce *CheckError
			if !errors.As(err, &ce) || !strings.HasPrefix(ce.Location, "t.sh.tmpl:") {
				t.Fatalf("error %v lacks a location", err)
			}
		})
	}
}

func TestCheckQuotingContext(t *testing.T) {
	bad := map[string]string{
		"double quotes":          `echo "{{ q .X }}"` + "\n",
		"double quotes later":    `echo "a b {{ .X | q }} c"` + "\n",
		"single quotes":          `echo '{{ q .X }}'` + "\n",
		"ansi-c quotes":          `echo $'{{ q .X }}'` + "\n",
		"after dollar":           `echo ${{ q .X }}` + "\n",
		"after backslash":        `echo \{{ q .X }}` + "\n",
		"comment":                "# host {{ q .X }}\necho\n",
		"comment after command":  "echo a # {{ q .X }}\n",
		"heredoc body":           "cat <<EOF\n{{ q .X }}\nEOF\n",
		"quoted heredoc body":    "cat <<'EOF'\nx={{ q .X }}\nEOF\n",
		"dash heredoc body":      "cat <<-EOF\n\t{{ q .X }}\n\tEOF\n",
		"heredoc delimiter":      "cat <<{{ q .X }}\nEOF\n",
		"param in dquote":        `echo "${X:-{{ q .Y }}}"` + "\n",
		"subst in dquote param":  `echo "$(echo "{{ q .Y }}")"` + "\n",
		"backtick dquote":        "echo `echo \"{{ q .Y }}\"`\n",
		"unterminated dquote":    "echo \"abc\n",
		"unterminated squote":    "echo 'abc\n",
		"unterminated heredoc":   "cat <<EOF\nabc\n",
		"branches differ":        `{{ if .A }}"{{ else }}x{{ end }}"` + "\n",
		"range body opens quote": `{{ range .L }}"{{ end }}` + "\n",
		"template in dquote":     `{{ define "w" }}x{{ end }}echo "{{ template "w" . }}"` + "\n",
	}
	for name, text := range bad {
		t.Run("bad/"+name, func(t *testing.T) {
			err := Check("t.sh.tmpl", text)
			if err == nil {
				t.Fatalf("Check accepted %q", text)
			}
			if !errors.Is(err, ErrUnsafe) {
				t.Fatalf("error %v does not match ErrUnsafe", err)
			}
		})
	}
	good := map[string]string{
		"plain":                 "echo {{ q .X }} {{ .Y | q }}\n",
		"assignment":            "x={{ q .X }}\necho \"${x}\"\n",
		"flag value":            "etcdctl --name={{ q .X }} --peer {{ .Y | upper | q }}\n",
		"qjoin":                 "for m in {{ qjoin .L }}; do echo \"$m\"; done\n",
		"declaration":           "{{ $n := .X }}echo {{ q $n }}\n",
		"assign":                "{{ $n := 1 }}{{ $n = .X }}echo {{ q $n }}\n",
		"raw with reason":       `sleep {{ raw "integer, validated by int" (int .N) }}` + "\n",
		"raw piped":             `sleep {{ .N | int | raw "integer, validated by int" }}` + "\n",
		"command substitution":  "v=$(printf '%s' {{ q .X }})\n",
		"subst in dquote":       `echo "$(basename {{ q .X }})"` + "\n",
		"nested subst":          `echo "$(echo "$(cat {{ q .X }})")"` + "\n",
		"backticks":             "v=`basename {{ q .X }}`\n",
		"param default":         "echo ${X:-{{ q .Y }}}\n",
		"arith":                 "echo $(( 1 << 2 )) {{ q .X }}\n",
		"arith command":         "(( i = 1 << 2 ))\necho {{ q .X }}\n",
		"after heredoc":         "cat <<EOF\n$HOME \"'\nEOF\necho {{ q .X }}\n",
		"after quoted heredoc":  "cat <<'EOF'\n' \" $(\nEOF\necho {{ q .X }}\n",
		"after dash heredoc":    "cat <<-\"END\"\n\t'\n\tEND\necho {{ q .X }}\n",
		"two heredocs":          "cat <<A <<B\na\nA\nb\nB\necho {{ q .X }}\n",
		"here-string":           "cat <<< {{ q .X }}\n",
		"heredoc then word":     "cat <<EOF >{{ q .F }}\nbody\nEOF\n",
		"comment with quote":    "# it's fine\necho {{ q .X }}\n",
		"hash in word":          "echo a#b {{ q .X }} ${#x}\n",
		"quotes closed":         `echo "a" 'b' $'c\'d' {{ q .X }}` + "\n",
		"escaped quote":         `echo \" \' {{ q .X }}` + "\n",
		"dquote escaped dquote": `echo "a\"b" {{ q .X }}` + "\n",
		"if else balanced":      `{{ if .A }}echo {{ q .X }}{{ else }}echo "b"{{ end }}` + "\n",
		"with else":             `{{ with .A }}echo {{ q . }}{{ else }}echo none{{ end }}` + "\n",
		"range":                 "{{ range .L }}echo {{ q . }}\n{{ end }}",
		"template call":         `{{ define "w" }}echo {{ q .X }}{{ end }}{{ template "w" . }}` + "\n",
		"template comment":      "{{/* {{ .X }} is fine in a comment */}}echo\n",
		"case pattern":          "case {{ q .X }} in a) echo a;; *) echo b;; esac\n",
		"subshell":              "( cd /tmp && ls {{ q .X }} )\n",
		"process substitution":  "diff <(echo {{ q .X }}) <(echo b)\n",
		"no trailing newline":   "echo {{ q .X }}",
		"heredoc delim at eof":  "cat <<EOF\nbody\nEOF",
		"line continuation":     "echo a \\\n  {{ q .X }}\n",
		"brace group":           "{ echo {{ q .X }}; } >/dev/null\n",
		"test brackets":         "[[ -n {{ q .X }} && $a == \"b\" ]]\n",
		"function":              "f() {\n  echo {{ q .X }}\n}\nf\n",
	}
	for name, text := range good {
		t.Run("good/"+name, func(t *testing.T) {
			if err := Check("t.sh.tmpl", text); err != nil {
				t.Fatalf("Check rejected %q: %v", text, err)
			}
		})
	}
}

func TestCheckErrorNamesLocation(t *testing.T) {
	err := Check("hello.sh.tmpl", "echo ok\necho {{ .Vars.greeting }}\n")
	if err == nil {
		t.Fatal("accepted")
	}
	for _, want := range []string{"hello.sh.tmpl:2:", ".Vars.greeting", "| q"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}
