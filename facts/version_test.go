package facts

import (
	"errors"
	"strings"
	"testing"
)

// Real outputs of the etcd binaries.
const (
	etcd34Out    = "etcd Version: 3.4.23\nGit SHA: c8b7831\nGo Version: go1.17.13\nGo OS/Arch: linux/amd64\n"
	etcdctl34Out = "etcdctl version: 3.4.23\nAPI version: 3.4\n"
	etcd35Out    = "etcd Version: 3.5.21\nGit SHA: a17edfd\nGo Version: go1.23.7\nGo OS/Arch: linux/amd64\n"
	etcdctl35Out = "etcdctl version: 3.5.21\nAPI version: 3.5\n"
	etcdutl35Out = "etcdutl version: 3.5.21\nAPI version: 3.5\n"
	etcd36Out    = "etcd Version: 3.6.5\nGit SHA: 6a2ee5b\nGo Version: go1.24.9\nGo OS/Arch: linux/amd64\n"
	etcdctl36Out = "etcdctl version: 3.6.5\nAPI version: 3.6\n"
	etcdutl36Out = "etcdutl version: 3.6.5\nAPI version: 3.6\n"
)

func TestParseEtcdVersion(t *testing.T) {
	tests := []struct {
		name, out string
		want      Version
		str       string
	}{
		{"etcd 3.4", etcd34Out, Version{3, 4, 23, ""}, "3.4.23"},
		{"etcdctl 3.4", etcdctl34Out, Version{3, 4, 23, ""}, "3.4.23"},
		{"etcd 3.5", etcd35Out, Version{3, 5, 21, ""}, "3.5.21"},
		{"etcdctl 3.5", etcdctl35Out, Version{3, 5, 21, ""}, "3.5.21"},
		{"etcdutl 3.5", etcdutl35Out, Version{3, 5, 21, ""}, "3.5.21"},
		{"etcd 3.6", etcd36Out, Version{3, 6, 5, ""}, "3.6.5"},
		{"etcdctl 3.6", etcdctl36Out, Version{3, 6, 5, ""}, "3.6.5"},
		{"etcdutl 3.6", etcdutl36Out, Version{3, 6, 5, ""}, "3.6.5"},
		{"pre-release", "etcd Version: 3.6.0-rc.3\nGit SHA: x\n", Version{3, 6, 0, "rc.3"}, "3.6.0-rc.3"},
		{"v prefix, CRLF, no newline", "etcdutl version: v3.5.9\r\nAPI version: 3.5", Version{3, 5, 9, ""}, "3.5.9"},
		{"log noise first", `{"level":"warn","msg":"deprecated"}` + "\n" + etcdctl35Out, Version{3, 5, 21, ""}, "3.5.21"},
		{"API version line first is ignored", "API version: 3.6\netcdutl version: 3.6.5\n", Version{3, 6, 5, ""}, "3.6.5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := ParseEtcdVersion(tt.out)
			if err != nil {
				t.Fatal(err)
			}
			if v != tt.want || v.String() != tt.str {
				t.Fatalf("got %#v (%s), want %#v (%s)", v, v, tt.want, tt.str)
			}
		})
	}
}

func TestParseEtcdVersionErrors(t *testing.T) {
	for _, out := range []string{
		"", "missing", "API version: 3.5\n", "Go Version: go1.23.7\n", "etcd Version: 3.5\n",
		"etcd Version: three\n", "bash: etcdutl: command not found\n", "etcd Version: 3.5.99999999999\n",
		"etcd Version: 3.5.1 extra\n",
	} {
		t.Run(out, func(t *testing.T) {
			v, err := ParseEtcdVersion(out)
			if !errors.Is(err, ErrBadVersion) {
				t.Fatalf("got %v, %v; want ErrBadVersion", v, err)
			}
			if !strings.Contains(err.Error(), "version") {
				t.Errorf("error %q", err)
			}
		})
	}
}

func TestVersionMethods(t *testing.T) {
	v := Version{3, 5, 10, ""}
	if !v.AtLeast(3, 5, 10) || v.AtLeast(3, 5, 11) || !v.AtLeast(3, 4, 99) || v.AtLeast(3, 6, 0) || !v.AtLeast(2, 9, 9) || v.AtLeast(4, 0, 0) {
		t.Error("AtLeast")
	}
	if !v.SameMinor(Version{3, 5, 21, ""}) || v.SameMinor(Version{3, 6, 10, ""}) {
		t.Error("SameMinor")
	}
	if v.MajorMinor() != "3.5" || !(Version{}).IsZero() || v.IsZero() {
		t.Error("MajorMinor/IsZero")
	}
}

func TestRestoreTool(t *testing.T) {
	tests := []struct {
		v       Version
		etcdutl bool
		want    Tool
		err     error
	}{
		{Version{3, 4, 23, ""}, false, ToolEtcdctl, nil},
		{Version{3, 4, 23, ""}, true, ToolEtcdctl, nil},
		{Version{3, 5, 21, ""}, true, ToolEtcdutl, nil},
		{Version{3, 5, 21, ""}, false, ToolEtcdctl, nil},
		{Version{3, 6, 5, ""}, true, ToolEtcdutl, nil},
		{Version{3, 6, 5, ""}, false, ToolNone, ErrNoRestoreTool},
		{Version{3, 7, 0, ""}, true, ToolEtcdutl, nil},
		{Version{3, 3, 27, ""}, false, ToolNone, ErrUnsupportedVersion},
		{Version{4, 0, 0, ""}, true, ToolNone, ErrUnsupportedVersion},
		{Version{}, true, ToolNone, ErrUnsupportedVersion},
	}
	for _, tt := range tests {
		got, err := RestoreTool(tt.v, tt.etcdutl)
		if got != tt.want || !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
			t.Errorf("RestoreTool(%s, %v) = %q, %v; want %q, %v", tt.v, tt.etcdutl, got, err, tt.want, tt.err)
		}
		if err != nil && tt.v.Major == 3 && !strings.Contains(err.Error(), tt.v.String()) {
			t.Errorf("error %q does not name the version", err)
		}
	}
}

func TestSupportsBumpRevision(t *testing.T) {
	tests := []struct {
		v    Version
		tool Tool
		want bool
	}{
		{Version{3, 4, 23, ""}, ToolEtcdctl, false},
		{Version{3, 5, 9, ""}, ToolEtcdutl, false},
		{Version{3, 5, 10, ""}, ToolEtcdutl, true},
		{Version{3, 5, 21, ""}, ToolEtcdutl, true},
		{Version{3, 5, 21, ""}, ToolEtcdctl, true},
		{Version{3, 5, 9, ""}, ToolEtcdctl, false},
		{Version{3, 6, 0, ""}, ToolEtcdutl, true},
		{Version{3, 6, 5, ""}, ToolEtcdctl, false},
		{Version{3, 6, 5, ""}, ToolNone, false},
		{Version{4, 0, 0, ""}, ToolEtcdutl, false},
	}
	for _, tt := range tests {
		if got := SupportsBumpRevision(tt.v, tt.tool); got != tt.want {
			t.Errorf("SupportsBumpRevision(%s, %q) = %v", tt.v, tt.tool, got)
		}
	}
}
