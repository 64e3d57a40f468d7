#!/usr/bin/env bash
# bench/stop-order.sh: how long `systemctl stop etcd` takes on the masters of an
# up lab (LAB_NET), all at once or with the raft leader DELAY s (default 0.5)
# after the followers; MODES lists the trials, SETTLE the seconds between them
# (the API servers re-open their watches). Each line: the mode, the leader, the
# total and each node's time. The trials behind bench/notes.md's B2, session 4.
set -u
export LAB_NET=${LAB_NET:-0}
L=$(cd "$(dirname "$0")/.." && pwd)/fixtures/lab.sh
N=(ncn-m001 ncn-m002 ncn-m003)
pki=/etc/kubernetes/pki/etcd
ec="etcdctl --endpoints https://127.0.0.1:2379 --cacert $pki/ca.crt --cert $pki/server.crt --key $pki/server.key"
leader() {
	for n in "${N[@]}"; do
		$L ssh $n "$ec endpoint status -w fields" 2>/dev/null | awk -v n=$n '/"MemberID"/{m=$3} /"Leader"/{l=$3} END{if (m==l) print n}'
	done
}
since() { awk -v a="$1" -v b="$(date +%s.%N)" -v d="${2:-0}" 'BEGIN { printf "%.2f", b - a + d }'; }
out=$(mktemp -d)
trap 'rm -rf -- "$out"' EXIT
stop_one() { local n=$1 d=$2 t0; sleep "$d"; t0=$(date +%s.%N); $L ssh $n "systemctl stop etcd" >/dev/null 2>&1; echo "$n $(since "$t0" "$d")"; }
for mode in ${MODES:-parallel stagger parallel stagger}; do
	ld=$(leader)
	sleep ${SETTLE:-8}
	t0=$(date +%s.%N)
	for n in "${N[@]}"; do
		d=0; [[ $mode == stagger && $n == "$ld" ]] && d=${DELAY:-0.5}
		stop_one $n $d >"$out/$n" &
	done
	wait
	echo "$mode leader=$ld total $(since "$t0") : $(cat "$out"/* | tr '\n' ' ')"
	for n in "${N[@]}"; do $L ssh $n "systemctl start --no-block etcd"; done
	for i in $(seq 100); do $L etcdctl endpoint health >/dev/null 2>&1 && break; sleep 0.5; done
done
