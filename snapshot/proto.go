package snapshot

import (
	"errors"
	"fmt"
)

// The values of bucket "key" are mvccpb.KeyValue protobuf messages:
//
//	message KeyValue {
//	  bytes key = 1;
//	  int64 create_revision = 2;
//	  int64 mod_revision = 3;
//	  int64 version = 4;
//	  bytes value = 5;
//	  int64 lease = 6;
//	}
//
// Only the key is needed here, so a minimal wire-format reader replaces the
// generated code (and keeps etcd out of go.mod).

const (
	wireVarint  = 0
	wireFixed64 = 1
	wireBytes   = 2
	wireFixed32 = 5

	fieldKey = 1
)

var errProto = errors.New("malformed mvccpb.KeyValue")

// kvKey returns field 1 (key) of an encoded mvccpb.KeyValue. A message without
// the field has an empty key. If the field repeats, the last one wins, as in
// protobuf.
func kvKey(msg []byte) ([]byte, error) {
	var key []byte
	for len(msg) > 0 {
		tag, n := uvarint(msg)
		if n <= 0 {
			return nil, fmt.Errorf("%w: bad tag", errProto)
		}
		msg = msg[n:]
		field, wire := tag>>3, tag&7
		if field == 0 {
			return nil, fmt.Errorf("%w: field number 0", errProto)
		}
		switch wire {
		case wireVarint:
			_, n := uvarint(msg)
			if n <= 0 {
				return nil, fmt.Errorf("%w: bad varint in field %d", errProto, field)
			}
			msg = msg[n:]
		case wireFixed64, wireFixed32:
			size := 8
			if wire == wireFixed32 {
				size = 4
			}
			if len(msg) < size {
				return nil, fmt.Errorf("%w: short field %d", errProto, field)
			}
			msg = msg[size:]
		case wireBytes:
			l, n := uvarint(msg)
			if n <= 0 || l > uint64(len(msg)-n) {
				return nil, fmt.Errorf("%w: bad length in field %d", errProto, field)
			}
			b := msg[n : n+int(l)]
			msg = msg[n+int(l):]
			if field == fieldKey {
				key = b
			}
		default:
			return nil, fmt.Errorf("%w: wire type %d in field %d", errProto, wire, field)
		}
	}
	return key, nil
}

// uvarint decodes a protobuf base-128 varint. n is the number of bytes read,
// or 0 if buf ends first, or -1 if the value overflows 64 bits.
func uvarint(buf []byte) (v uint64, n int) {
	for i, b := range buf {
		if i == 10 {
			return 0, -1
		}
		if i == 9 && b > 1 {
			return 0, -1
		}
		v |= uint64(b&0x7f) << (7 * i)
		if b < 0x80 {
			return v, i + 1
		}
	}
	return 0, 0
}
