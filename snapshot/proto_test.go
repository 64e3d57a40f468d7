package snapshot

import (
	"errors"
	"testing"
)

func TestKVKey(t *testing.T) {
	cases := []struct {
		name string
		msg  []byte
		want string
		bad  bool
	}{
		{"empty message", nil, "", false},
		{"key only", []byte{0x0a, 0x03, 'a', 'b', 'c'}, "abc", false},
		// create_revision=2 (varint), key, value, lease (varint), fixed64 and fixed32 unknown fields.
		{"all fields", []byte{0x10, 0x02, 0x0a, 0x01, 'k', 0x2a, 0x02, 'v', 'v', 0x30, 0xff, 0x01,
			0x39, 1, 2, 3, 4, 5, 6, 7, 8, 0x45, 1, 2, 3, 4}, "k", false},
		{"last key wins", []byte{0x0a, 0x01, 'a', 0x0a, 0x01, 'b'}, "b", false},
		{"length beyond end", []byte{0x0a, 0x05, 'a'}, "", true},
		{"truncated varint", []byte{0x10, 0x80}, "", true},
		{"field zero", []byte{0x00, 0x01}, "", true},
		{"group wire type", []byte{0x0b}, "", true},
		{"short fixed64", []byte{0x39, 1, 2}, "", true},
		{"overlong varint", []byte{0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, "", true},
	}
	for _, c := range cases {
		got, err := kvKey(c.msg)
		if c.bad {
			if !errors.Is(err, errProto) {
				t.Errorf("%s: err = %v, want errProto", c.name, err)
			}
			continue
		}
		if err != nil || string(got) != c.want {
			t.Errorf("%s: kvKey = %q, %v; want %q", c.name, got, err, c.want)
		}
	}
}

func TestParseRevision(t *testing.T) {
	k := []byte{0, 0, 0, 0, 0, 0, 1, 0, '_', 0, 0, 0, 0, 0, 0, 0, 3}
	main, tomb, err := parseRevision(k)
	if err != nil || main != 256 || tomb {
		t.Fatalf("parseRevision = %d %v %v", main, tomb, err)
	}
	main, tomb, err = parseRevision(append(k, 't'))
	if err != nil || main != 256 || !tomb {
		t.Fatalf("tombstone: parseRevision = %d %v %v", main, tomb, err)
	}
	for _, bad := range [][]byte{k[:16], append(k, 'x'), append(k[:8:8], append([]byte{'-'}, k[9:]...)...)} {
		if _, _, err := parseRevision(bad); !errors.Is(err, ErrCorrupt) {
			t.Errorf("parseRevision(%x) = %v", bad, err)
		}
	}
}

func FuzzKVKey(f *testing.F) {
	f.Add([]byte{0x0a, 0x03, 'a', 'b', 'c'})
	f.Fuzz(func(t *testing.T, msg []byte) {
		k, err := kvKey(msg)
		if err == nil && len(k) > len(msg) {
			t.Fatal("key longer than message")
		}
	})
}
