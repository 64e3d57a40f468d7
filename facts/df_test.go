package facts

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

const dfOut = `Filesystem         1-blocks        Used   Available Capacity Mounted on
/dev/vda       270553174016 16213504000 81579790336      17% /
/dev/mapper/etcdvg0-ETCDLV 32172195840 412532736 30103355392       2% /var/lib/etcd
`

func TestParseDFRows(t *testing.T) {
	rows, err := ParseDFRows(dfOut)
	if err != nil {
		t.Fatal(err)
	}
	want := []DFRow{
		{"/dev/vda", 270553174016, 16213504000, 81579790336, "/"},
		{"/dev/mapper/etcdvg0-ETCDLV", 32172195840, 412532736, 30103355392, "/var/lib/etcd"},
	}
	if !reflect.DeepEqual(rows, want) {
		t.Fatalf("got %+v", rows)
	}
}

func TestParseDF(t *testing.T) {
	tests := []struct {
		name, out string
		want      map[string]uint64
	}{
		{"two filesystems", dfOut, map[string]uint64{"/": 81579790336, "/var/lib/etcd": 30103355392}},
		{"same filesystem twice", "Filesystem 1-blocks Used Available Capacity Mounted on\noverlay 100 40 60 40% /\noverlay 100 40 60 40% /\n",
			map[string]uint64{"/": 60}},
		{"no header, blank lines, CRLF", "\r\n/dev/sda1 100 40 60 40% /tmp\r\n\r\n", map[string]uint64{"/tmp": 60}},
		{"mount point with spaces", "Filesystem 1-blocks Used Available Capacity Mounted on\n/dev/sdb1 100 40 60 40% /mnt/my disk\n",
			map[string]uint64{"/mnt/my disk": 60}},
		{"wrapped long device name", "Filesystem 1-blocks Used Available Capacity Mounted on\n/dev/mapper/a-very-long-volume-group-name-logical-volume\n      100 40 60 40% /var/lib/etcd\n",
			map[string]uint64{"/var/lib/etcd": 60}},
		{"1B-blocks header", "Filesystem 1B-blocks Used Available Capacity Mounted on\ntmpfs 100 0 100 0% /run\n", map[string]uint64{"/run": 100}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseDF(tt.out)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseDFErrors(t *testing.T) {
	tests := []struct{ name, out, contains string }{
		{"empty", "", "no data line"},
		{"header only", "Filesystem 1-blocks Used Available Capacity Mounted on\n", "no data line"},
		{"1024-blocks", "Filesystem     1024-blocks     Used Available Capacity Mounted on\n/dev/vda 264212084 15833504 79667760 17% /\n", "block size is 1024"},
		{"human readable", "Filesystem      Size  Used Avail Use% Mounted on\n/dev/vda        252G   16G   76G  17% /\n", "unexpected header"},
		{"error message", "df: /nonexist: No such file or directory\n", "not a df -P data line"},
		{"dash available", "Filesystem 1-blocks Used Available Capacity Mounted on\nproc - - - - /proc\n", "not a df -P data line"},
		{"overflow", "x 1 1 99999999999999999999999 1% /\n", "out of range"},
		{"missing", "missing\n", "not a df -P data line"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseDF(tt.out)
			if !errors.Is(err, ErrBadDF) {
				t.Fatalf("got %v, %v; want ErrBadDF", got, err)
			}
			if !strings.Contains(err.Error(), tt.contains) {
				t.Errorf("error %q does not contain %q", err, tt.contains)
			}
		})
	}
}
