#!/usr/bin/env bash
# make bench: `ncnpush etcd restore` across the lab's three masters as the
# snapshot grows, against one plain `scp` of the same dump to one master (the
# reference). Reports medians, min-max and the ratio of each pair measured in
# the same run, alternating the two, and ncnpush's peak RSS (memory must stay
# flat as the snapshot grows). Writes docs/benchmarks.md.
#
#   BENCH_SIZES="256 1024" BENCH_RUNS=5 bench/restore.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SIZES=${BENCH_SIZES:-256 1024}
RUNS=${BENCH_RUNS:-5}
LAB_NET=${LAB_NET:-0}
if [[ $LAB_NET == 0 ]]; then LAB_DIR=${LAB_DIR:-/var/tmp/ncnpush-lab}; else LAB_DIR=${LAB_DIR:-/var/tmp/ncnpush-lab$LAB_NET}; fi
OUT=${BENCH_OUT:-docs/benchmarks.md}
LAB=fixtures/lab.sh
BIN=bin/ncnpush
export LAB_DIR

[[ -x /usr/bin/time ]] || apt-get install -y -q time >/dev/null
make -s build >/dev/null
work=$(mktemp -d /var/tmp/ncnpush-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT

median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.2f\n", (a[NR/2]+a[NR/2+1])/2}'; }
minmax() { sort -n | awk 'NR==1{min=$1} {max=$1} END {printf "%s–%s", min, max}'; }

rows=()
for size in $SIZES; do
	echo "== $size MiB: fresh lab, $size keys of 1 MiB of incompressible data, a CSM-style backup" >&2
	$LAB up >&2
	$LAB seed -tag bench -n "$size" -size 1048576 -timeout 30m >&2
	key=$($LAB backup | tail -1)
	# The reference needs the raw dump on this machine (outside the timing).
	(set -a; . "$LAB_DIR/s3.env"; /usr/bin/aws --endpoint-url "$AWS_ENDPOINT_URL" s3 cp --only-show-errors "s3://etcd-backup/$key" "$work/b.tar.gz")
	tar xzf "$work/b.tar.gz" -C "$work"
	dump=$(ls "$work"/etcd-backup-*/etcd-dump.bin)
	bytes=$(stat -c %s "$dump")
	: >"$work/restore.txt"
	: >"$work/scp.txt"
	for ((i = 1; i <= RUNS; i++)); do
		(set -a; . "$LAB_DIR/s3.env"; set +a
			/usr/bin/time -f '%e %M' -o "$work/t" "$BIN" etcd restore -i "$LAB_DIR/inventory.yaml" \
				--known-hosts "$LAB_DIR/known_hosts" --backup latest --yes --skip-k8s-heal -o json >/dev/null 2>"$work/err" ||
				{ cat "$work/err" >&2; exit 1; })
		cat "$work/t" >>"$work/restore.txt"
		/usr/bin/time -f '%e' -o "$work/t" scp -q -F "$LAB_DIR/ssh_config" "$dump" ncn-m001:/var/tmp/ncnpush-bench.bin
		cat "$work/t" >>"$work/scp.txt"
		$LAB ssh ncn-m001 rm -f /var/tmp/ncnpush-bench.bin
		echo "  run $i: restore $(tail -1 "$work/restore.txt") (s, KiB)  scp $(tail -1 "$work/scp.txt") s" >&2
	done
	# Keep the kept member directories from filling the nodes' disks.
	$BIN etcd cleanup -i "$LAB_DIR/inventory.yaml" --known-hosts "$LAB_DIR/known_hosts" --yes >/dev/null
	r_med=$(cut -d' ' -f1 "$work/restore.txt" | median)
	r_mm=$(cut -d' ' -f1 "$work/restore.txt" | minmax)
	s_med=$(median <"$work/scp.txt")
	s_mm=$(minmax <"$work/scp.txt")
	rss=$(cut -d' ' -f2 "$work/restore.txt" | sort -n | tail -1)
	ratio=$(awk -v a="$r_med" -v b="$s_med" 'BEGIN {printf "%.2f", a/b}')
	rows+=("| $size MiB ($bytes B) | $RUNS | $r_med ($r_mm) | $s_med ($s_mm) | ${ratio}× | $((rss / 1024)) MiB |")
	rm -rf "$work"/etcd-backup-* "$work/b.tar.gz"
done
$LAB down >&2

{
	echo "# Benchmarks"
	echo
	echo "Measured by \`make bench\` (bench/restore.sh) on $(date -u +%Y-%m-%d), $(nproc) cores, in the container-master lab."
	echo "Whole processes timed from the outside with /usr/bin/time; the two commands alternate, run by run."
	echo
	echo "## Whole restore vs one plain scp"
	echo
	echo "\`ncnpush etcd restore --backup latest --yes\` on 3 masters (S3 stream to all three, restore, stop, swap, start,"
	echo "verify, clean up) against one \`scp\` of the same uncompressed dump to one master. Seconds: median (min–max)."
	echo
	echo "| snapshot | runs | ncnpush restore, 3 masters | scp to 1 master | ratio | ncnpush peak RSS |"
	echo "|---|---|---|---|---|---|"
	printf '%s\n' "${rows[@]}"
} | tee "$OUT"
