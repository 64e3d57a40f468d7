// Package snapshot checks etcd v3 snapshot files without etcd's own code.
//
// An etcd v3 snapshot, as `etcdctl snapshot save` writes it, is a bbolt
// database (the backend of etcd's MVCC store) followed by 32 bytes: the sha256
// of every byte before them. The package offers two independent checks:
//
//   - [Verifier] streams the bytes once and tells whether the appended sha256
//     is right, and the sha256 of the whole file (what `sha256sum` prints on a
//     node, to compare copies).
//   - [Stat] opens the file read-only with bbolt and reports the highest MVCC
//     revision and the key counts, the numbers `etcdutl snapshot status` prints,
//     plus the number of live user keys.
//
// Neither check needs etcd's code: the MVCC records are decoded by a minimal
// protobuf reader (only mvccpb.KeyValue's key), so etcd stays out of go.mod.
// Package snapshottest writes etcd-shaped snapshot files for tests.
package snapshot
