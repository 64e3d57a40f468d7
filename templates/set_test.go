package templates

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"text/template"
)

var update = flag.Bool("update", false, "rewrite testdata/golden/*.golden")

// goldenData is the fixed data every built-in template is rendered with. It
// has the shape phases.TemplateData gives templates.
func goldenData() map[string]any {
	info := func(kernel string) map[string]any {
		return map[string]any{"hostname": "ncn-m001", "kernel": kernel, "arch": "x86_64"}
	}
	return map[string]any{
		"Vars": map[string]any{
			"command":  `systemctl is-active etcd && echo "it's up"`,
			"greeting": "hello",
			"df_path":  "/var/lib/etcd",
			// etcd restore (tasks/etcd-restore.yaml), with a hostile run id
			// to pin the quoting.
			"kubeadm_config":     "/etc/kubernetes/kubeadmcfg.yaml",
			"staging_dir":        "/var/tmp/ncnpush-etcd-restore",
			"data_dir":           "/var/lib/etcd",
			"lock_file":          "/var/lib/ncnpush-etcd-restore/lock",
			"state_dir":          "/var/lib/ncnpush-etcd-restore",
			"start_note":         "start",
			"journal_step":       "verified",
			"journal_end":        "restored",
			"pki_dir":            "/etc/kubernetes/pki/etcd",
			"cluster_token":      "tkn",
			"run_id":             "20260212T101500Z'; $(reboot)",
			"dump_sha256":        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
			"dump_bytes":         "268988448",
			"start_timeout":      120,
			"start_max_restarts": 3,
			"leader_stop_delay":  1,
			"hold_dropin":        "/etc/systemd/system/etcd.service.d/00-ncnpush-restore-hold.conf",
			"bump_revision":      true,
			"bump_amount":        1000000000,
			"keys_rev":           int64(1000004242),
			// The throw-away etcd that counts the snapshot's keys.
			"count_client_port": 23790,
			"count_peer_port":   23800,
			"count_timeout":     120,
			"remove":            true,
			// backups create (tasks/etcd-backup-create.yaml); run_id above.
			"tmp_dir":          "/var/tmp",
			"snapshot_timeout": 600,
			// backups push (tasks/backup-push.yaml), with a hostile directory
			// to pin the quoting; dump_sha256 above.
			"dest_dir":       "/var/tmp/ncnpush backups'; $(reboot)",
			"dump_file":      "etcd-backup-2024-05-01-10-20-30-etcd-dump.bin",
			"dump_size":      "318107680",
			"verify_on_node": true,
			// --s3-credentials-from-secret (k8s-secret-get.sh.tmpl).
			"kubeconfig":       "/etc/kubernetes/admin.conf",
			"secret_namespace": "default",
			"secret_name":      "etcd-backup-s3-credentials",
			// k8s heal (tasks/k8s-heal.yaml), with a hostile manifest and
			// pod name to pin the quoting.
			"request_timeout": 20,
			"delete_timeout":  120,
			"namespace":       "kube-system",
			"name":            "kube-etcdbackup",
			"uid":             "5f0c8a52-8d4e-4f0e-9a55-2b1c3d4e5f60",
			"manifest":        `{"apiVersion":"batch/v1","kind":"CronJob","metadata":{"name":"kube-etcdbackup","namespace":"kube-system","annotations":{"note":"it's $(reboot) \\n"}},"spec":{"schedule":"*/10 * * * *"}}`,
			"pods":            []string{"kube-etcdbackup-27758660-xj9kb", "x'; $(reboot)"},
		},
		"Host": map[string]any{"Name": "ncn-m001", "Address": "10.252.1.10", "Groups": []string{"all", "masters"}},
		"Self": map[string]any{"info": info("5.14.21"), "paths": map[string]any{
			// The run's paths (etcdrestore), with a hostile run id in them.
			"data":    "/var/lib/etcd",
			"staging": "/var/tmp/ncnpush-etcd-restore.20260212T101500Z'; $(reboot)",
			"state":   "/var/lib/ncnpush-etcd-restore",
			"journal": "/var/lib/ncnpush-etcd-restore/20260212T101500Z'; $(reboot).journal",
			"aside":   "/var/lib/etcd/member.pre-restore-20260212T101500Z'; $(reboot)",
			"failed":  "/var/lib/etcd/member.failed-restore-20260212T101500Z'; $(reboot)",
			"lock":    "/var/lib/ncnpush-etcd-restore/lock",
			"hold":    "/etc/systemd/system/etcd.service.d/00-ncnpush-restore-hold.conf",
		}, "cleanup": []string{"/var/lib/etcd/member.pre-restore-20250101T000000Z", "/var/lib/etcd/member.failed-restore-x'; $(reboot)"},
			"etcd": map[string]any{
				"name":            "ncn-m001",
				"initial_cluster": "ncn-m001=https://10.252.1.10:2380,ncn-m002=https://10.252.1.9:2380,ncn-m003=https://10.252.1.8:2380",
				"peer_url":        "https://10.252.1.10:2380",
				"tool":            "etcdutl",
			}},
		"Facts": map[string]any{"info": map[string]any{
			"ncn-m001": info("5.14.21"), "ncn-m002": info("5.14.21"), "ncn-m003": info("5.14.22"),
		}},
		"Task": map[string]any{"Name": "golden", "Phase": "Golden", "DryRun": false},
	}
}

func TestGolden(t *testing.T) {
	set, err := New("")
	if err != nil {
		t.Fatal(err)
	}
	names := set.List()
	if len(names) == 0 {
		t.Fatal("no built-in templates")
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			got, err := set.Render(name, goldenData())
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", "golden", strings.TrimSuffix(name, Ext)+".golden")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./templates -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("render %s differs from %s:\n--- got\n%s\n--- want\n%s", name, path, got, want)
			}
			// Every golden script must at least be valid bash.
			cmd := exec.Command("bash", "-n")
			cmd.Stdin = strings.NewReader(got)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Errorf("bash -n %s: %v: %s", name, err, out)
			}
		})
	}
}

// TestGoldenFilesHaveTemplates catches a golden file left behind by a
// removed or renamed template.
func TestGoldenFilesHaveTemplates(t *testing.T) {
	set, err := New("")
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "golden", "*.golden"))
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".golden") + Ext
		if !set.Has(name) {
			t.Errorf("%s has no template %s", f, name)
		}
	}
}

const hostile = "a'b; $(touch %s) `touch %s` \"$HOME\" \\ \n next line"

// runBash runs script like the transport does: on stdin of bash -euo pipefail -s.
func runBash(t *testing.T, script string) string {
	t.Helper()
	cmd := exec.Command("bash", "-euo", "pipefail", "-s")
	cmd.Stdin = strings.NewReader(script)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("bash: %v\nstderr: %s\nscript:\n%s", err, errb.String(), script)
	}
	return out.String()
}

func TestQuotedValueArrivesLiterally(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "x")
	value := strings.ReplaceAll(strings.ReplaceAll(hostile, "%s", marker), "`touch "+marker+"`", "`touch "+marker+"`")
	set, err := NewFromSources(Source{Name: "echo.sh.tmpl", Origin: "test", Text: `printf '%s\n' {{ q .V }}
for w in {{ qjoin .L }}; do printf '[%s]\n' "$w"; done
v={{ .V | q }}
printf '%s\n' "$(printf '%s' {{ q .V }})"
`})
	if err != nil {
		t.Fatal(err)
	}
	script, err := set.Render("echo.sh.tmpl", map[string]any{"V": value, "L": []string{value, "plain", ""}})
	if err != nil {
		t.Fatal(err)
	}
	out := runBash(t, script)
	if _, err := os.Stat(marker); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("%s exists: the value was executed (stat: %v)\nscript:\n%s", marker, err, script)
	}
	want := value + "\n" + "[" + value + "]\n[plain]\n[]\n" + value + "\n"
	if out != want {
		t.Fatalf("output differs:\n got %q\nwant %q", out, want)
	}
}

// TestUnquotedValueWouldRun proves the test above can fail: the same value
// rendered without q (bypassing the check) does run the command.
func TestUnquotedValueWouldRun(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "x")
	tmpl := template.Must(template.New("bad").Parse("echo {{ .V }}\n"))
	var b strings.Builder
	if err := tmpl.Execute(&b, map[string]any{"V": "a; touch " + marker}); err != nil {
		t.Fatal(err)
	}
	runBash(t, b.String())
	if _, err := os.Stat(marker); err != nil {
		t.Fatalf("unquoted value did not run (%v): the literal-value test proves nothing", err)
	}
	if err := Check("bad.sh.tmpl", "echo {{ .V }}\n"); !errors.Is(err, ErrUnsafe) {
		t.Fatalf("Check(unquoted) = %v, want ErrUnsafe", err)
	}
}

func TestNewRejectsUnquotedOverride(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "evil.sh.tmpl"), []byte("echo {{ .Vars.x }}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := New(dir)
	if !errors.Is(err, ErrUnsafe) {
		t.Fatalf("New = %v, want ErrUnsafe", err)
	}
	if !strings.Contains(err.Error(), filepath.Join(dir, "evil.sh.tmpl")) {
		t.Errorf("error %q does not name the file", err)
	}
}

func TestOverrideAndAdd(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("exec.sh.tmpl", "echo overridden {{ q .Vars.command }}\n")
	write("extra.sh.tmpl", "echo extra\n")
	write("README.md", "not a template {{ .X }}\n")
	set, err := New(dir)
	if err != nil {
		t.Fatal(err)
	}
	src, err := set.Source("exec.sh.tmpl")
	if err != nil || src.Origin != filepath.Join(dir, "exec.sh.tmpl") {
		t.Fatalf("Source(exec) = %+v, %v; want origin in %s", src, err, dir)
	}
	if src, _ := set.Source("ping.sh.tmpl"); src.Origin != Builtin {
		t.Errorf("ping origin = %q, want builtin", src.Origin)
	}
	if !set.Has("extra.sh.tmpl") || set.Has("README.md") {
		t.Errorf("List = %v", set.List())
	}
	got, err := set.Render("exec.sh.tmpl", map[string]any{"Vars": map[string]any{"command": "ls -l"}})
	if err != nil || got != "echo overridden 'ls -l'\n" {
		t.Fatalf("Render = %q, %v", got, err)
	}
	if _, err := set.Source("nope.sh.tmpl"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Source(nope) = %v, want ErrNotFound", err)
	}
	if _, err := set.Render("nope.sh.tmpl", nil); !errors.Is(err, ErrNotFound) {
		t.Errorf("Render(nope) = %v, want ErrNotFound", err)
	}
}

func TestMissingKeyNamesTemplateAndKey(t *testing.T) {
	set, err := New("")
	if err != nil {
		t.Fatal(err)
	}
	_, err = set.Render("hello.sh.tmpl", map[string]any{
		"Vars": map[string]any{"greting": "typo"},
		"Host": map[string]any{"Name": "h"},
	})
	if !errors.Is(err, ErrRender) {
		t.Fatalf("Render = %v, want ErrRender", err)
	}
	for _, want := range []string{"hello.sh.tmpl", `"greeting"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %s", err, want)
		}
	}
}

func TestQRejectsNonScalars(t *testing.T) {
	set, err := NewFromSources(Source{Name: "q.sh.tmpl", Text: "echo {{ q .V }}\n"},
		Source{Name: "qj.sh.tmpl", Text: "echo {{ qjoin .V }}\n"})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []any{nil, []string{"a"}, map[string]string{}, "nul\x00byte"} {
		if _, err := set.Render("q.sh.tmpl", map[string]any{"V": v}); !errors.Is(err, ErrQuote) {
			t.Errorf("q %#v: err = %v, want ErrQuote", v, err)
		}
	}
	for _, v := range []any{nil, "a", []any{"a", []string{"b"}}} {
		if _, err := set.Render("qj.sh.tmpl", map[string]any{"V": v}); !errors.Is(err, ErrQuote) {
			t.Errorf("qjoin %#v: err = %v, want ErrQuote", v, err)
		}
	}
	for v, want := range map[any]string{42: "echo 42\n", true: "echo true\n", 2.5: "echo 2.5\n", "": "echo ''\n"} {
		if got, err := set.Render("q.sh.tmpl", map[string]any{"V": v}); err != nil || got != want {
			t.Errorf("q %#v = %q, %v; want %q", v, got, err, want)
		}
	}
}

func TestEnvFunctionsRemoved(t *testing.T) {
	for _, fn := range removedFuncs {
		_, err := NewFromSources(Source{Name: "e.sh.tmpl", Text: "echo {{ " + fn + ` "HOME" | q }}` + "\n"})
		if err == nil {
			t.Errorf("template calling %s was accepted", fn)
		}
	}
}
