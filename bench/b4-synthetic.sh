#!/usr/bin/env bash
# B4 at a size make bench cannot seed in reasonable time (default 4096 MiB):
# peak RSS of `ncnpush backups push` streaming a synthetic snapshot (random
# bytes with the sha256 etcd appends, which is all the stream checks) from
# the lab's MinIO to the three masters, 3 runs. Writes
# bench/results/b4-<MiB>.txt ("seconds KiB" per run), which bench.sh's B4
# table reads. Needs a lab that is up (LAB_NET) and bin/ncnpush.
set -euo pipefail
cd "$(dirname "$0")/.."
MIB=${1:-4096}
RUNS=${BENCH_RUNS:-3}
LAB_NET=${LAB_NET:-0}
if [[ $LAB_NET == 0 ]]; then D=/var/tmp/ncnpush-lab; else D=/var/tmp/ncnpush-lab$LAB_NET; fi
export LAB_NET
set -a; . "$D/s3.env"; set +a
name=etcd-backup-2000-01-01-00-00-00
key=bare-metal/$name.tar.gz
w=$(mktemp -d /var/tmp/ncnpush-b4.XXXXXX)
cleanup() {
	rm -rf "$w"
	aws s3 rm --only-show-errors "s3://etcd-backup/$key" 2>/dev/null || true
	for n in ncn-m001 ncn-m002 ncn-m003; do fixtures/lab.sh ssh "$n" 'rm -rf /var/tmp/ncnpush-b4' || true; done
}
trap cleanup EXIT
mkdir -p "$w/$name"
python3 - "$w/$name/etcd-dump.bin" "$MIB" <<'PY'
import hashlib, os, sys
h = hashlib.sha256(); left = int(sys.argv[2]) << 20
with open(sys.argv[1], 'wb') as f:
    while left:
        b = os.urandom(min(8 << 20, left)); h.update(b); f.write(b); left -= len(b)
    f.write(h.digest())
PY
(cd "$w" && tar -I 'gzip -1' -cf b.tar.gz "$name")
rm -rf "${w:?}/$name"
aws s3 cp --only-show-errors "$w/b.tar.gz" "s3://etcd-backup/$key"
rm -f "$w/b.tar.gz"
: >"$w/b4.txt"
for i in $(seq "$RUNS"); do
	/usr/bin/time -o "$w/time" -f '%e %M' bin/ncnpush backups push -i "$D/inventory.yaml" --known-hosts "$D/known_hosts" \
		--backup "$name" --dest /var/tmp/ncnpush-b4 --max-dump-size $(((MIB + 64) << 20)) -o json >"$w/out" 2>"$w/err" ||
		{ tail -n 3 "$w/err" >&2; exit 1; }
	cat "$w/time" >>"$w/b4.txt"
	echo "b4-synthetic: run $i at $MIB MiB: $(cat "$w/time") (s, KiB)" >&2
done
cp "$w/b4.txt" "bench/results/b4-$MIB.txt"
