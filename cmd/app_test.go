package cmd

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// A command asked for -o json that fails before it writes anything (here:
// the inventory cannot be read) still prints exactly one JSON document;
// without -o json stdout stays empty. Either way stderr has the one-line
// error.
func TestFailureBeforeOutputIsStillOneJSONDocument(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "inventory.yaml")
	for _, tc := range []struct {
		args []string
		json bool
	}{
		{[]string{"ncnpush", "etcd", "status", "-i", missing, "-o", "json"}, true},
		{[]string{"ncnpush", "exec", "-i", missing, "--output=json", "uname -r"}, true},
		{[]string{"ncnpush", "etcd", "status", "-i", missing}, false},
	} {
		var stdout, stderr bytes.Buffer
		code := mainTo(tc.args, &stdout, &stderr)
		if code == 0 {
			t.Fatalf("%v: exit 0", tc.args)
		}
		if lines := strings.Split(strings.TrimSpace(stderr.String()), "\n"); len(lines) != 1 || !strings.Contains(lines[0], missing) {
			t.Errorf("%v: stderr is not one line naming the inventory:\n%s", tc.args, stderr.String())
		}
		if !tc.json {
			if stdout.Len() != 0 {
				t.Errorf("%v: stdout %q, want nothing", tc.args, stdout.String())
			}
			continue
		}
		var doc struct {
			Status string `json:"status"`
			Error  string `json:"error"`
		}
		dec := json.NewDecoder(&stdout)
		if err := dec.Decode(&doc); err != nil || doc.Status != "failed" || !strings.Contains(doc.Error, missing) || dec.More() {
			t.Errorf("%v: stdout is not one failed JSON document naming the inventory (%v): %+v", tc.args, err, doc)
		}
	}
}
