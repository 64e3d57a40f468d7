#!/bin/bash
# A stand-in for etcdctl, for the unit tests of the heal phases: `get KEY -w
# json` prints a response header with the revision in $FAKE_DIR/etcd-rev.
set -euo pipefail
[[ " $* " == *" get ncnpush-k8s-heal-revision -w json "* ]] || { echo "fake etcdctl: unexpected: $*" >&2; exit 9; }
printf '{"header":{"cluster_id":1,"member_id":2,"revision":%s,"raft_term":3}}\n' "$(cat "$FAKE_DIR/etcd-rev")"
