package transport

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"go/ast"
	"go/parser"
	"go/printer"
	"go/token"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// The host key policy, proved two ways: statically, over the source of the
// whole module (TestHostKeyPolicySource), and by behaviour, on the callback
// the client configuration really uses (TestHostKeyPolicyCallback).

// sshImportPath is the package whose InsecureIgnoreHostKey is hunted.
const sshImportPath = "golang.org/x/crypto/ssh"

// goFile is one parsed non-test Go file of the module.
type goFile struct {
	rel  string // slash path from the module root, e.g. "transport/client.go"
	fset *token.FileSet
	file *ast.File
}

// moduleSource parses every non-test .go file of the main module: the
// repository minus testdata, hidden directories and nested modules (the lab
// tools under fixtures/tools have their own go.mod and are not the product).
func moduleSource(t *testing.T) []goFile {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(root, "go.mod")); err != nil || !strings.Contains(string(b), "module github.com/ncnpush/ncnpush\n") {
		t.Fatalf("%s is not the module root: %v", root, err)
	}
	var files []goFile
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p == root {
				return nil
			}
			name := d.Name()
			if name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(p, "go.mod")); err == nil {
				return filepath.SkipDir // another module
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		files = append(files, goFile{rel: filepath.ToSlash(rel), fset: fset, file: f})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 50 {
		t.Fatalf("found only %d Go files under %s: the walk is broken", len(files), root)
	}
	return files
}

// sshNames returns the names under which f imports the ssh package.
func sshNames(t *testing.T, f goFile) []string {
	var names []string
	for _, imp := range f.file.Imports {
		path, _ := strconv.Unquote(imp.Path.Value)
		if path != sshImportPath {
			continue
		}
		name := "ssh"
		if imp.Name != nil {
			name = imp.Name.Name
		}
		if name == "." {
			t.Errorf("%s dot-imports %s: InsecureIgnoreHostKey could hide there", f.rel, sshImportPath)
		}
		names = append(names, name)
	}
	return names
}

func exprString(fset *token.FileSet, e ast.Node) string {
	var b strings.Builder
	printer.Fprint(&b, fset, e)
	return b.String()
}

// use is one place in the source, with the code that governs it.
type use struct {
	at   string // "file:line"
	fn   string // enclosing function
	cond string // conditions of the enclosing if statements, innermost first
	expr string // the value written, for field writes
}

// walkWithContext calls visit for every node of f with the enclosing
// function's name and the conditions of the enclosing if statements (only
// for nodes in the if's body, not its else).
func walkWithContext(f goFile, visit func(n ast.Node, fn string, conds []string)) {
	var stack []ast.Node
	ast.Inspect(f.file, func(n ast.Node) bool {
		if n == nil {
			stack = stack[:len(stack)-1]
			return true
		}
		fn := ""
		var conds []string
		for i := len(stack) - 1; i >= 0; i-- {
			switch s := stack[i].(type) {
			case *ast.FuncDecl:
				if fn == "" {
					fn = s.Name.Name
				}
			case *ast.IfStmt:
				child := n
				if i+1 < len(stack) {
					child = stack[i+1]
				}
				if child == s.Body {
					conds = append(conds, exprString(f.fset, s.Cond))
				}
			}
		}
		visit(n, fn, conds)
		stack = append(stack, n)
		return true
	})
}

func (f goFile) pos(n ast.Node) string {
	p := f.fset.Position(n.Pos())
	return f.rel + ":" + strconv.Itoa(p.Line)
}

// TestHostKeyPolicySource proves from the source that host key checking is
// off only when the user gave --insecure-ignore-host-key:
//
//  1. ssh.InsecureIgnoreHostKey is referred to exactly once in the module's
//     non-test code: in transport's clientConfig, under `if ep.insecure`;
//  2. endpoint.insecure is set in one place only, from
//     Config.InsecureIgnoreHostKey; the hostKeyChecker accepts every key
//     (db == nil) only on the `if ep.insecure` path of newHostKeyChecker;
//  3. a field named InsecureIgnoreHostKey is written in exactly two places:
//     hosts.ConnectOptions.TransportConfig copies ConnectOptions', and the
//     CLI sets ConnectOptions' from c.Bool(flagInsecureIgnoreHost);
//  4. that flag has no environment variable, and no other HostKeyCallback is
//     set anywhere.
func TestHostKeyPolicySource(t *testing.T) {
	var insecureRefs, insecureWrites, fieldWrites, callbacks, dbWrites []use
	for _, f := range moduleSource(t) {
		ssh := sshNames(t, f)
		inTransport := strings.HasPrefix(f.rel, "transport/")
		walkWithContext(f, func(n ast.Node, fn string, conds []string) {
			u := use{at: f.pos(n), fn: fn, cond: strings.Join(conds, " / ")}
			switch n := n.(type) {
			case *ast.SelectorExpr:
				if id, ok := n.X.(*ast.Ident); ok && slices.Contains(ssh, id.Name) && n.Sel.Name == "InsecureIgnoreHostKey" {
					insecureRefs = append(insecureRefs, u)
				}
			case *ast.KeyValueExpr:
				if k, ok := n.Key.(*ast.Ident); ok {
					u.expr = exprString(f.fset, n.Value)
					switch k.Name {
					case "insecure":
						if inTransport {
							insecureWrites = append(insecureWrites, u)
						}
					case "InsecureIgnoreHostKey":
						fieldWrites = append(fieldWrites, u)
					case "HostKeyCallback":
						callbacks = append(callbacks, u)
					case "db":
						if inTransport {
							dbWrites = append(dbWrites, u)
						}
					}
				}
			case *ast.AssignStmt:
				for i, lhs := range n.Lhs {
					sel, ok := lhs.(*ast.SelectorExpr)
					if !ok {
						continue
					}
					u := u
					if len(n.Rhs) == len(n.Lhs) {
						u.expr = exprString(f.fset, n.Rhs[i])
					}
					switch sel.Sel.Name {
					case "insecure":
						if inTransport {
							insecureWrites = append(insecureWrites, u)
						}
					case "InsecureIgnoreHostKey":
						fieldWrites = append(fieldWrites, u)
					case "HostKeyCallback":
						callbacks = append(callbacks, u)
					case "db":
						if inTransport {
							dbWrites = append(dbWrites, u)
						}
					}
				}
			}
		})
	}

	// 1. The one reference, in clientConfig under `if ep.insecure`.
	if len(insecureRefs) != 1 || !strings.HasPrefix(insecureRefs[0].at, "transport/client.go:") ||
		insecureRefs[0].fn != "clientConfig" || insecureRefs[0].cond != "ep.insecure" {
		t.Errorf("ssh.InsecureIgnoreHostKey is used at %+v; want exactly once, in transport/client.go clientConfig under `if ep.insecure`", insecureRefs)
	}
	// 2. endpoint.insecure comes from Config.InsecureIgnoreHostKey only.
	if len(insecureWrites) != 1 || !strings.HasPrefix(insecureWrites[0].at, "transport/config.go:") ||
		insecureWrites[0].fn != "resolveEndpoint" || insecureWrites[0].expr != "cfg.InsecureIgnoreHostKey" {
		t.Errorf("endpoint.insecure is written at %+v; want only `insecure: cfg.InsecureIgnoreHostKey` in resolveEndpoint", insecureWrites)
	}
	// The checker's db is the known_hosts database, never left nil on purpose
	// except on the insecure early return (which writes nothing).
	if len(dbWrites) != 1 || dbWrites[0].fn != "newHostKeyChecker" || dbWrites[0].expr != "db" || dbWrites[0].cond != "" {
		t.Errorf("hostKeyChecker.db is written at %+v; want only `h.db = db` (known_hosts) in newHostKeyChecker", dbWrites)
	}
	// 3. The user's flag is the only source of InsecureIgnoreHostKey.
	want := map[string]use{
		"hosts/connect.go": {fn: "TransportConfig", expr: "o.InsecureIgnoreHostKey"},
		"cmd/common.go":    {fn: "connectOptions", expr: "c.Bool(flagInsecureIgnoreHost)"},
	}
	for _, w := range fieldWrites {
		file, _, _ := strings.Cut(w.at, ":")
		exp, ok := want[file]
		if !ok || w.fn != exp.fn || w.expr != exp.expr || w.cond != "" {
			t.Errorf("InsecureIgnoreHostKey is set at %s (in %s, to %s, under %q): only the explicit flag may set it", w.at, w.fn, w.expr, w.cond)
			continue
		}
		delete(want, file)
	}
	for file, w := range want {
		t.Errorf("%s no longer sets InsecureIgnoreHostKey in %s from %s: update this test with the new path", file, w.fn, w.expr)
	}
	// 4. No other callback: known_hosts (checker.check) or the flag's.
	for _, c := range callbacks {
		ok := c.fn == "clientConfig" && strings.HasPrefix(c.at, "transport/client.go:") &&
			((c.expr == "checker.check" && c.cond == "") || (c.expr == "ssh.InsecureIgnoreHostKey()" && c.cond == "ep.insecure"))
		if !ok {
			t.Errorf("HostKeyCallback set at %s to %s (in %s, under %q): host keys must be checked by hostKeyChecker", c.at, c.expr, c.fn, c.cond)
		}
	}
	if len(callbacks) != 2 {
		t.Errorf("HostKeyCallback is set %d times (%+v), want 2 (the checker, and the flag's)", len(callbacks), callbacks)
	}
	checkInsecureFlagHasNoEnv(t)
}

// checkInsecureFlagHasNoEnv: --insecure-ignore-host-key can only be typed,
// never inherited from an environment variable left set.
func checkInsecureFlagHasNoEnv(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, filepath.Join("..", "cmd", "flags.go"), nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	ast.Inspect(f, func(n ast.Node) bool {
		cl, ok := n.(*ast.CompositeLit)
		if !ok {
			return true
		}
		isFlag := false
		for _, e := range cl.Elts {
			if kv, ok := e.(*ast.KeyValueExpr); ok && exprString(fset, kv.Key) == "Name" && exprString(fset, kv.Value) == "flagInsecureIgnoreHost" {
				isFlag = true
			}
		}
		if !isFlag {
			return true
		}
		found++
		if exprString(fset, cl.Type) != "cli.BoolFlag" {
			t.Errorf("--insecure-ignore-host-key is a %s, want a cli.BoolFlag", exprString(fset, cl.Type))
		}
		for _, e := range cl.Elts {
			if kv, ok := e.(*ast.KeyValueExpr); ok {
				switch k := exprString(fset, kv.Key); k {
				case "EnvVars", "Value", "FilePath":
					t.Errorf("--insecure-ignore-host-key has %s: %s; it must only come from the command line", k, exprString(fset, kv.Value))
				}
			}
		}
		return true
	})
	if found != 1 {
		t.Errorf("cmd/flags.go defines --insecure-ignore-host-key %d times, want once", found)
	}
}

// hopCallbacks builds, exactly as Dial does, the host key callback of every
// hop that cfg dials (jump hosts first).
func hopCallbacks(t *testing.T, cfg Config) ([]*endpoint, []ssh.HostKeyCallback) {
	t.Helper()
	sc, err := loadSSHConfig(cfg.SSHConfigFile)
	if err != nil {
		t.Fatal(err)
	}
	p, err := plan(cfg, sc)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler).With("host", cfg.Host)
	var cbs []ssh.HostKeyCallback
	for _, ep := range p.hops {
		checker, err := newHostKeyChecker(ep, log)
		if err != nil {
			t.Fatal(err)
		}
		cbs = append(cbs, clientConfig(ep, checker, nil).HostKeyCallback)
	}
	return p.hops, cbs
}

func randomHostKey(t *testing.T) ssh.PublicKey {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestHostKeyPolicyCallback: without the flag, the callback the SSH client
// is given refuses a host it does not know and a key that changed, whatever
// ssh_config says and on every hop; trust on first use records the key and
// still refuses a changed one; only InsecureIgnoreHostKey accepts anything.
func TestHostKeyPolicyCallback(t *testing.T) {
	t.Setenv("HOME", t.TempDir()) // no ~/.ssh/config, no ~/.ssh/known_hosts
	remote := &net.TCPAddr{IP: net.IPv4(192, 0, 2, 10), Port: 22}
	dir := t.TempDir()
	kh := filepath.Join(dir, "known_hosts")
	// The most permissive ssh_config there is: it must not turn checks off.
	lax := filepath.Join(dir, "ssh_config")
	writeFile(t, lax, []byte("Host *\n  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  CheckHostIP no\n"), 0o600)
	base := Config{Host: "ncn-m001", Address: "192.0.2.10", Port: 22, User: "root", KnownHostsFiles: []string{kh},
		SSHConfigFile: filepath.Join(dir, "none"), Jump: "jump1,root@jump2:2222"}

	refuse := func(name string, cfg Config, key ssh.PublicKey, want error) {
		t.Helper()
		eps, cbs := hopCallbacks(t, cfg)
		if len(cbs) != 3 {
			t.Fatalf("%s: %d hops, want 3", name, len(cbs))
		}
		for i, cb := range cbs {
			err := cb(eps[i].knownHostsAddr(), remote, key)
			var hkErr *HostKeyError
			if !errors.Is(err, want) || !errors.As(err, &hkErr) {
				t.Errorf("%s: hop %s accepted or misjudged the key: %v, want %v", name, eps[i].name, err, want)
			}
		}
	}

	// Strict (the default), with no known_hosts file at all.
	key := randomHostKey(t)
	refuse("strict, no known_hosts", base, key, ErrUnknownHostKey)
	if _, err := os.Stat(kh); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("strict checking wrote %s: %v", kh, err)
	}

	// ssh_config's StrictHostKeyChecking no is trust on first use at most.
	other := randomHostKey(t)
	var lines []string
	for _, a := range []string{"jump1:22", "[jump2]:2222", "192.0.2.10:22"} {
		lines = append(lines, knownhosts.Line([]string{knownhosts.Normalize(a)}, other))
	}
	writeFile(t, kh, []byte(strings.Join(lines, "\n")+"\n"), 0o600)
	laxCfg := base
	laxCfg.SSHConfigFile = lax
	refuse("ssh_config StrictHostKeyChecking no, changed key", laxCfg, key, ErrHostKeyMismatch)
	refuse("strict, changed key", base, key, ErrHostKeyMismatch)
	tofu := base
	tofu.AcceptNewHostKeys = true
	refuse("accept-new, changed key", tofu, key, ErrHostKeyMismatch)

	// Trust on first use records the new key; the next strict check uses it.
	os.Remove(kh)
	eps, cbs := hopCallbacks(t, tofu)
	for i, cb := range cbs {
		if err := cb(eps[i].knownHostsAddr(), remote, key); err != nil {
			t.Fatalf("accept-new refused a new host %s: %v", eps[i].name, err)
		}
	}
	eps, cbs = hopCallbacks(t, base)
	for i, cb := range cbs {
		if err := cb(eps[i].knownHostsAddr(), remote, key); err != nil {
			t.Errorf("the key recorded for %s is not accepted: %v", eps[i].name, err)
		}
	}
	refuse("strict after accept-new, another key", base, other, ErrHostKeyMismatch)

	// Only the explicit option accepts any key, on every hop.
	insecure := laxCfg
	insecure.InsecureIgnoreHostKey = true
	eps, cbs = hopCallbacks(t, insecure)
	for i, cb := range cbs {
		if !eps[i].insecure {
			t.Errorf("hop %s: InsecureIgnoreHostKey not applied", eps[i].name)
		}
		if err := cb(eps[i].knownHostsAddr(), remote, randomHostKey(t)); err != nil {
			t.Errorf("hop %s with InsecureIgnoreHostKey: %v", eps[i].name, err)
		}
	}
	// And without it no hop is insecure, whatever else is set.
	for _, cfg := range []Config{base, laxCfg, tofu} {
		eps, _ := hopCallbacks(t, cfg)
		for _, ep := range eps {
			if ep.insecure {
				t.Errorf("hop %s is insecure without InsecureIgnoreHostKey (config %+v)", ep.name, cfg)
			}
		}
	}
}
