#!/usr/bin/env bash
# make bench: ncnpush against what an admin would use instead, side by side on
# the same lab in one run, the tools alternating run by run (the order rotates
# too), every one timed as a whole process from the outside with
# /usr/bin/time. Writes docs/benchmarks.md (medians, min–max, ratios, goals)
# and prints it. Benchmarks, not tests: `make test` never runs them.
#
#   B1  snapshot distribution S3 → 3 masters, uncompressed (per BENCH_SIZES):
#       ncnpush backups push | bench/runbook.sh | bench/b1-distribute.yml,
#       limits: gunzip once into /dev/null, one scp of the raw dump to one master
#   B2  whole restore on 3 masters, 256 MiB: ncnpush etcd restore | bench/b2-restore.yml
#   B3  `uname -r` on BENCH_HOSTS sshd-only hosts (fixtures/lightlab.sh):
#       ncnpush exec | parallel-ssh | ansible
#   B4  ncnpush's peak RSS in B1, per size
#
# Environment:
#   BENCH_ONLY   sections to run (default B1,B2,B3,B4; B4 comes with B1)
#   BENCH_RUNS   runs per tool (default 5)
#   BENCH_SIZES  B1/B4 snapshot sizes in MiB (default "256 1024 4096"; 4096 needs
#                ETCD_QUOTA_BYTES > 4 GiB in the lab, which this script sets)
#   BENCH_HOSTS  B3 host count (default 50)
#   LAB_NET      which container-master lab (default 0), LIGHT_NET the light lab's /24
#   BENCH_KEEP_LAB=1  leave the labs up at the end; BENCH_REUSE_LAB=1 use the lab
#                that is up instead of a fresh one
#
# Each section's table is kept in bench/results/<section>.md, so a narrowed run
# (BENCH_ONLY=B3) updates its own section and keeps the others'.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
ONLY=${BENCH_ONLY:-B1,B2,B3,B4}
RUNS=${BENCH_RUNS:-5}
SIZES=${BENCH_SIZES:-256 1024 4096}
NHOSTS=${BENCH_HOSTS:-50}
LAB_NET=${LAB_NET:-0}
if [[ $LAB_NET == 0 ]]; then LAB_DIR=${LAB_DIR:-/var/tmp/ncnpush-lab}; else LAB_DIR=${LAB_DIR:-/var/tmp/ncnpush-lab$LAB_NET}; fi
export LAB_NET LAB_DIR
LIGHT_DIR=${LIGHT_DIR:-/var/tmp/ncnpush-light}
export LIGHT_DIR
OUT=${BENCH_OUT:-docs/benchmarks.md}
RES=bench/results
LAB=fixtures/lab.sh
LIGHT=fixtures/lightlab.sh
BIN=$ROOT/bin/ncnpush
NODES=(ncn-m001 ncn-m002 ncn-m003)
NODE_DIR=/var/tmp/ncnpush-bench # the peers' destination on the masters
export ANSIBLE_CONFIG=$ROOT/bench/ansible.cfg

want() { [[ ,$ONLY, == *,$1,* ]]; }
log() { printf 'bench: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

# ---------------------------------------------------------------- peers
need=()
command -v ansible-playbook >/dev/null || need+=(ansible)
command -v parallel-ssh >/dev/null || need+=(pssh)
[[ -x /usr/bin/aws ]] || need+=(awscli)
[[ -x /usr/bin/time ]] || need+=(time)
if ((${#need[@]})); then
	log "installing the peers from Debian's packages: ${need[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >&2
fi
make -s build >/dev/null
mkdir -p "$RES"
work=$(mktemp -d /var/tmp/ncnpush-bench.XXXXXX)
cleanup() {
	close_masters
	rm -rf "$work"
	if [[ ${BENCH_KEEP_LAB:-} != 1 ]]; then
		[[ -n ${light_up:-} ]] && $LIGHT down >&2 || true
		[[ -n ${lab_up:-} ]] && $LAB down >&2 || true
	fi
}
trap cleanup EXIT

# ---------------------------------------------------------------- measuring
# measure FILE CMD...: run CMD once, timed; append "seconds peak-KiB" to FILE.
measure() {
	local f=$1
	shift
	if ! /usr/bin/time -f '%e %M' -o "$work/time" "$@" >"$work/out" 2>"$work/err"; then
		log "failed: $*"
		tail -n 30 "$work/out" "$work/err" >&2
		return 1
	fi
	tail -n 1 "$work/time" >>"$f"
}
col() { cut -d' ' -f"$1" "$2"; }
median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.2f\n", (a[NR/2]+a[NR/2+1])/2}'; }
minmax() { sort -n | awk 'NR==1{min=$1} {max=$1} END {printf "%s–%s", min, max}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a/b}'; }
# row LABEL FILE [REF]: a table row; the last column is this row's median over
# REF's (how many times ncnpush's time the peer takes).
row() {
	local label=$1 f=$2 ref=${3:-} med
	med=$(col 1 "$f" | median)
	if [[ -n $ref ]]; then
		echo "| $label | $(wc -l <"$f") | $med | $(col 1 "$f" | minmax) | $(ratio "$med" "$(col 1 "$ref" | median)")× |"
	else
		echo "| $label | $(wc -l <"$f") | $med | $(col 1 "$f" | minmax) | 1 (ncnpush) |"
	fi
}
goal() { # goal TEXT OK(0/1)
	if (($2)); then echo "- goal met: $1"; else echo "- **goal missed**: $1"; fi
}
load() { cut -d' ' -f1-3 /proc/loadavg; }
# order N I: the tool indices 0..N-1 rotated by I, so that no tool always
# runs first (cold caches) or last.
order() { local n=$1 i=$2 k; for ((k = 0; k < n; k++)); do echo $(((k + i) % n)); done; }
# count_lines FILE PATTERN: how many lines of FILE contain PATTERN.
count_lines() { grep -cF -- "$2" "$1" || true; }

# The Ansible control masters of one run: a directory per run, closed after
# it, so that every run starts cold, as the first command at 3 a.m. does.
ctl=""
open_masters() {
	ctl=$(mktemp -d "$work/ctl.XXXX")
	export ANSIBLE_SSH_CONTROL_PATH_DIR=$ctl
	export ANSIBLE_SSH_ARGS="-F $1 -o ControlMaster=auto -o ControlPersist=60s -o Compression=no"
}
close_masters() {
	local s
	[[ -n $ctl && -d $ctl ]] || return 0
	for s in "$ctl"/*; do [[ -S $s ]] && ssh -o ControlPath="$s" -O exit placeholder 2>/dev/null || true; done
	rm -rf "$ctl"
	ctl=""
}

# ---------------------------------------------------------------- the lab
lab_up=""
lab() {
	[[ -n $lab_up ]] && return 0
	# A 4 GiB snapshot needs a backend quota above etcd's default 2 GiB.
	export ETCD_QUOTA_BYTES=${ETCD_QUOTA_BYTES:-8589934592}
	if [[ ${BENCH_REUSE_LAB:-} == 1 ]] && $LAB status >/dev/null 2>&1; then
		log "reusing the lab that is up (BENCH_REUSE_LAB=1)"
	else
		$LAB up >&2
	fi
	lab_up=1
	seeded=0
	if [[ ${BENCH_REUSE_LAB:-} == 1 ]]; then
		# Sizes seeded by an earlier run: tags bench<MiB> hold the keys.
		local t
		for t in $($LAB count 2>/dev/null | head -n 1 | grep -o 'bench[0-9]*:[0-9]*' || true); do
			((${t#*:} > 0)) && seeded=$((seeded + ${t#*:}))
		done
	fi
	printf '[masters]\n%s\n' "${NODES[@]}" >"$work/masters.ini"
	python_on_masters
}
labssh() { ssh -F "$LAB_DIR/ssh_config" "$@"; }
# Ansible's modules need Python on the masters (real NCNs have it); the lab's
# minbase rootfs has none. The nodes are Debian 12 like this machine: copy
# this machine's own Python 3 packages' files in (outside any timing).
python_on_masters() {
	local pkgs=(python3.11-minimal libpython3.11-minimal libpython3.11-stdlib python3-minimal python3
		libsqlite3-0 libreadline8 libgdbm6 media-types) n
	labssh "${NODES[0]}" test -x /usr/bin/python3 && return 0
	log "copying this machine's Python 3 onto the masters (for the Ansible peer)"
	dpkg -L "${pkgs[@]}" | sort -u | while read -r f; do [[ -f $f || -L $f ]] && echo "${f#/}"; done >"$work/python.files"
	for n in "${NODES[@]}"; do
		tar -C / -cf - -T "$work/python.files" | labssh "$n" tar -C / --skip-old-files -xf -
	done
}
s3() { (set -a; . "$LAB_DIR/s3.env"; set +a; "$@"); }
# seed_to MIB: the cluster holds MIB keys of 1 MiB of incompressible data.
seed_to() {
	local n=$(($1 - seeded))
	((n > 0)) || { compact; return 0; }
	log "seeding $n more keys of 1 MiB (to $1 MiB)"
	$LAB seed -tag "bench$1" -n "$n" -size 1048576 -timeout 60m >&2
	seeded=$1
	compact
}
# compact: drop the history (earlier runs' writes of the same keys) and
# defragment, so that a snapshot is the size of the data it holds.
compact() {
	local rev
	rev=$($LAB etcdctl endpoint status -w json | grep -o '"revision":[0-9]*' | head -n 1 | cut -d: -f2)
	$LAB etcdctl compact "$rev" --physical >/dev/null 2>&1 || true # already compacted is fine
	$LAB etcdctl --command-timeout=600s defrag >/dev/null
}
clean_nodes() {
	local n
	for n in "${NODES[@]}"; do labssh "$n" "rm -rf $NODE_DIR/* && mkdir -p $NODE_DIR" & done
	wait
}

# ---------------------------------------------------------------- B1 + B4
b1() {
	local size=$1 key name dump bytes i k tools=(ncnpush runbook ansible gunzip scp)
	lab
	seed_to "$size"
	key=$($LAB backup | tail -n 1)
	name=$(basename "$key" .tar.gz)
	log "B1 at $size MiB: $key"
	# The limits need the archive and the raw dump here (outside the timing).
	s3 /usr/bin/aws --endpoint-url "$(s3 printenv AWS_ENDPOINT_URL)" s3 cp --only-show-errors "s3://etcd-backup/$key" "$work/b.tar.gz"
	tar -xzf "$work/b.tar.gz" -C "$work"
	dump=$work/$name/etcd-dump.bin
	bytes=$(stat -c %s "$dump")
	local archive endpoint
	archive=$(stat -c %s "$work/b.tar.gz")
	endpoint=$(s3 printenv AWS_ENDPOINT_URL)
	local f=$work/b1-$size
	for k in "${tools[@]}"; do : >"$f-$k"; done
	clean_nodes
	for ((i = 1; i <= RUNS; i++)); do
		for k in $(order ${#tools[@]} "$i"); do
			case ${tools[$k]} in
			ncnpush)
				s3 measure "$f-ncnpush" "$BIN" backups push -i "$LAB_DIR/inventory.yaml" \
					--known-hosts "$LAB_DIR/known_hosts" --backup "$name" --dest "$NODE_DIR/staged" -o json
				grep -q '"sha256"' "$work/out" || die "ncnpush backups push: no sha256 in its report"
				;;
			runbook)
				measure "$f-runbook" bench/runbook.sh "$LAB_DIR" "$key" "$work/runbook" "$NODE_DIR" "${NODES[@]}"
				rm -rf "$work/runbook"
				;;
			ansible)
				mkdir -p "$work/ansible"
				open_masters "$LAB_DIR/ssh_config"
				s3 measure "$f-ansible" ansible-playbook -i "$work/masters.ini" -f 3 bench/b1-distribute.yml \
					-e "s3_endpoint=$endpoint" -e "key=$key" -e "work=$work/ansible" -e "dest=$NODE_DIR"
				close_masters
				rm -rf "$work/ansible"
				;;
			gunzip) measure "$f-gunzip" sh -c 'gunzip -c "$1" >/dev/null' sh "$work/b.tar.gz" ;;
			scp) measure "$f-scp" scp -q -F "$LAB_DIR/ssh_config" -o Compression=no "$dump" "${NODES[0]}:$NODE_DIR/one.bin" ;;
			esac
			clean_nodes
		done
		log "  run $i: ncnpush $(tail -n 1 "$f-ncnpush") runbook $(tail -n 1 "$f-runbook") ansible $(tail -n 1 "$f-ansible") gunzip $(tail -n 1 "$f-gunzip") scp $(tail -n 1 "$f-scp") (s, KiB)"
	done
	rm -rf "$work/b.tar.gz" "${work:?}/$name"
	local n r a gz sc slow
	n=$(col 1 "$f-ncnpush" | median) r=$(col 1 "$f-runbook" | median) a=$(col 1 "$f-ansible" | median)
	gz=$(col 1 "$f-gunzip" | median) sc=$(col 1 "$f-scp" | median)
	slow=$(awk -v a="$gz" -v b="$sc" 'BEGIN {print (a > b) ? a : b}')
	{
		echo "### $size MiB snapshot (dump $bytes B, archive $archive B)"
		echo
		echo "| tool | runs | median s | min–max s | × ncnpush |"
		echo "|---|---|---|---|---|"
		row "ncnpush backups push" "$f-ncnpush"
		row "runbook script (aws s3 cp, gunzip, tar, scp × 3 in turn)" "$f-runbook" "$f-ncnpush"
		row "Ansible (download + unarchive, copy, forks=3)" "$f-ansible" "$f-ncnpush"
		row "limit: gunzip once into /dev/null" "$f-gunzip" "$f-ncnpush"
		row "limit: one scp of the dump to one master" "$f-scp" "$f-ncnpush"
		echo
		goal "ncnpush ≥ 3× faster than the runbook: $(ratio "$r" "$n")×" "$(awk -v r="$r" -v n="$n" 'BEGIN {print (r >= 3*n)}')"
		goal "ncnpush within 1.3× of the slower limit ($slow s): $(ratio "$n" "$slow")×" "$(awk -v s="$slow" -v n="$n" 'BEGIN {print (n <= 1.3*s)}')"
		echo "- load average during the runs: $(load)"
		echo
	} >"$work/B1-$size.md"
	# B4's data, kept for narrowed runs: "seconds peak-KiB" per run.
	cp "$f-ncnpush" "$RES/b4-$size.txt"
}

b4_fragment() {
	local size any="" sizes=()
	for size in 256 1024 4096; do [[ -f $RES/b4-$size.txt ]] && sizes+=("$size"); done
	((${#sizes[@]})) || return 0
	{
		echo "## B4. ncnpush's peak RSS during B1"
		echo
		echo "Peak resident set of \`ncnpush backups push\` (GNU time's %M) in the B1 runs."
		echo
		echo "| snapshot | runs | median MiB | min–max MiB |"
		echo "|---|---|---|---|"
		local ok=1 mx
		for size in "${sizes[@]}"; do
			awk '{print $2/1024}' "$RES/b4-$size.txt" >"$work/b4-$size.mib"
			mx=$(sort -n "$work/b4-$size.mib" | tail -n 1)
			awk -v m="$mx" 'BEGIN {exit !(m < 64)}' || ok=0
			printf '| %s MiB | %s | %.1f | %s |\n' "$size" "$(wc -l <"$RES/b4-$size.txt")" "$(median <"$work/b4-$size.mib")" \
				"$(awk '{printf "%.1f\n", $1}' "$work/b4-$size.mib" | minmax)"
		done
		echo
		goal "flat, under 64 MiB at every size measured (${sizes[*]} MiB)" "$ok"
		echo
	} >"$RES/B4.md"
}

b1_fragment() {
	local size
	{
		echo "## B1. Snapshot distribution: S3 → 3 masters, uncompressed"
		echo
		echo "From the backup in S3 (MinIO) to \`etcd-dump.bin\` on all three masters. ncnpush: \`backups push\`"
		echo "(the restore's fetch-and-push phase alone: one S3 stream through gzip and tar to every master at once,"
		echo "etcd's appended sha256 checked in the stream, every copy's owner, mode and size on its node). Runbook:"
		echo "bench/runbook.sh. Ansible: bench/b1-distribute.yml."
		echo "Seconds, whole processes; × ncnpush = the row's median over ncnpush's."
		echo
		for size in $SIZES; do [[ -f $work/B1-$size.md ]] && cat "$work/B1-$size.md"; done
	} >"$work/B1.md"
	# Keep the sizes this run did not measure from the previous fragment.
	if [[ -f $RES/B1.md ]]; then
		for size in 256 1024 4096; do
			[[ -f $work/B1-$size.md ]] && continue
			awk -v h="### $size MiB" 'index($0, h) == 1 {p=1} p && /^### / && index($0, h) != 1 {p=0} p' "$RES/B1.md" >>"$work/B1.md"
		done
	fi
	cp "$work/B1.md" "$RES/B1.md"
}

# ---------------------------------------------------------------- B2
b2() {
	local size=256 key name i k tools=(ncnpush ansible) endpoint heal=()
	lab
	if ((seeded > size)); then
		log "B2 needs a cluster of $size MiB: a fresh lab"
		$LAB up >&2
		seeded=0
		python_on_masters
	fi
	seed_to "$size"
	key=$($LAB backup | tail -n 1)
	name=$(basename "$key" .tar.gz)
	endpoint=$(s3 printenv AWS_ENDPOINT_URL)
	local help
	help=$("$BIN" etcd restore --help 2>&1)
	[[ $help == *--skip-k8s-heal* ]] && heal=(--skip-k8s-heal) # the lab has no Kubernetes: the peer does not heal either
	log "B2 at $size MiB: $key"
	local f=$work/b2
	: >"$f-ncnpush"
	: >"$f-ansible"
	for ((i = 1; i <= RUNS; i++)); do
		for k in $(order ${#tools[@]} "$i"); do
			case ${tools[$k]} in
			ncnpush)
				s3 measure "$f-ncnpush" "$BIN" etcd restore -i "$LAB_DIR/inventory.yaml" \
					--known-hosts "$LAB_DIR/known_hosts" --backup "$name" --yes "${heal[@]}" -o json
				"$BIN" etcd cleanup -i "$LAB_DIR/inventory.yaml" --known-hosts "$LAB_DIR/known_hosts" --yes >/dev/null
				;;
			ansible)
				mkdir -p "$work/ansible"
				open_masters "$LAB_DIR/ssh_config"
				s3 measure "$f-ansible" ansible-playbook -i "$work/masters.ini" -f 3 bench/b2-restore.yml \
					-e "s3_endpoint=$endpoint" -e "key=$key" -e "work=$work/ansible"
				close_masters
				rm -rf "$work/ansible"
				for n in "${NODES[@]}"; do labssh "$n" rm -rf /var/tmp/etcd_restore; done
				;;
			esac
			# Both must leave a healthy cluster holding the snapshot's keys.
			$LAB check -tag "bench$size" -n "$size" -size 1048576 >/dev/null 2>"$work/check" || { cat "$work/check" >&2; die "B2: ${tools[$k]} left the cluster without the snapshot's data"; }
		done
		log "  run $i: ncnpush $(tail -n 1 "$f-ncnpush") ansible $(tail -n 1 "$f-ansible") (s, KiB)"
	done
	local n a
	n=$(col 1 "$f-ncnpush" | median) a=$(col 1 "$f-ansible" | median)
	{
		echo "## B2. Whole restore on 3 masters, $size MiB snapshot"
		echo
		echo "From the backup in S3 to a verified healthy cluster holding it. ncnpush: \`etcd restore --yes\`"
		echo "(preflight, stream, check, restore, stop, swap, start, verify; the pre-restore members are kept and removed"
		echo "by \`etcd cleanup\` outside the timing). Ansible: bench/b2-restore.yml, the runbook's steps with forks=3"
		echo "(download, unarchive, copy, restore on each, stop all, swap, start all, member list, endpoint health)."
		echo "After every run of either, the harness checks that every member holds the snapshot's keys."
		echo
		echo "| tool | runs | median s | min–max s | × ncnpush |"
		echo "|---|---|---|---|---|"
		row "ncnpush etcd restore" "$f-ncnpush"
		row "Ansible playbook (runbook steps)" "$f-ansible" "$f-ncnpush"
		echo
		goal "ncnpush ≥ 5× faster than the Ansible playbook: $(ratio "$a" "$n")×" "$(awk -v a="$a" -v n="$n" 'BEGIN {print (a >= 5*n)}')"
		echo "- load average during the runs: $(load)"
		echo
	} >"$RES/B2.md"
}

# ---------------------------------------------------------------- B3
light_up=""
b3() {
	local i k tools=(ncnpush pssh ansible) want_out
	$LIGHT up "$NHOSTS" >&2
	light_up=1
	want_out=$(uname -r)
	local f=$work/b3 L=$LIGHT_DIR
	for k in "${tools[@]}"; do : >"$f-$k"; done
	for ((i = 1; i <= RUNS; i++)); do
		for k in $(order ${#tools[@]} "$i"); do
			case ${tools[$k]} in
			ncnpush)
				measure "$f-ncnpush" "$BIN" exec --forks "$NHOSTS" -i "$L/inventory.yaml" --known-hosts "$L/known_hosts" -- uname -r
				;;
			pssh)
				measure "$f-pssh" parallel-ssh -p "$NHOSTS" -h "$L/pssh-hosts" -x "-F $L/ssh_config -o Compression=no" -i uname -r
				;;
			ansible)
				open_masters "$L/ssh_config"
				measure "$f-ansible" ansible all -i "$L/hosts.ini" -f "$NHOSTS" -m command -a 'uname -r'
				close_masters
				;;
			esac
			# Every host must have answered.
			local got
			got=$(count_lines "$work/out" "$want_out")
			((got >= NHOSTS)) || { cat "$work/out" "$work/err" >&2; die "B3: ${tools[$k]} printed $got answers, want $NHOSTS"; }
		done
		log "  run $i: ncnpush $(tail -n 1 "$f-ncnpush") pssh $(tail -n 1 "$f-pssh") ansible $(tail -n 1 "$f-ansible") (s, KiB)"
	done
	local n p a
	n=$(col 1 "$f-ncnpush" | median) p=$(col 1 "$f-pssh" | median) a=$(col 1 "$f-ansible" | median)
	{
		echo "## B3. Fan-out: \`uname -r\` on $NHOSTS hosts"
		echo
		echo "The light lab (fixtures/lightlab.sh): $NHOSTS sshd-only hosts, one network namespace and one sshd each,"
		echo "no systemd. Every tool connects cold, checks host keys against the lab's known_hosts, runs the command"
		echo "on every host at once, and prints every answer (checked: $NHOSTS answers). Ansible with pipelining and"
		echo "ControlPersist (its control masters closed between runs, so each run starts cold)."
		echo
		echo "| tool | runs | median s | min–max s | × ncnpush |"
		echo "|---|---|---|---|---|"
		row "ncnpush exec --forks $NHOSTS" "$f-ncnpush"
		row "parallel-ssh -p $NHOSTS -i" "$f-pssh" "$f-ncnpush"
		row "ansible all -f $NHOSTS -m command" "$f-ansible" "$f-ncnpush"
		echo
		goal "ncnpush no slower than pssh: $(ratio "$p" "$n")×" "$(awk -v p="$p" -v n="$n" 'BEGIN {print (n <= p)}')"
		goal "ncnpush ≥ 10× faster than Ansible: $(ratio "$a" "$n")×" "$(awk -v a="$a" -v n="$n" 'BEGIN {print (a >= 10*n)}')"
		echo "- load average during the runs: $(load)"
		echo
	} >"$RES/B3.md"
	$LIGHT down >&2
	light_up=""
}

# ---------------------------------------------------------------- run
log "start: $(nproc) cores, load $(load); runs $RUNS; sections $ONLY"
if want B3; then b3; fi
# B2 right after B1 at 256 MiB (the cluster then holds exactly that); the
# larger sizes seed on top.
b2_done=""
if want B1 || want B4; then
	for size in $SIZES; do
		if ((size > 256)) && want B2 && [[ -z $b2_done ]]; then b2; b2_done=1; fi
		b1 "$size"
	done
	b1_fragment
	b4_fragment
fi
if want B2 && [[ -z $b2_done ]]; then b2; fi

{
	echo "# Benchmarks"
	echo
	echo "Written by \`make bench\` (bench/bench.sh; narrow it with BENCH_ONLY=B1,B3, BENCH_RUNS, BENCH_SIZES)."
	echo "Last run $(date -u '+%Y-%m-%d %H:%M UTC') on $(nproc) cores, $(uname -r). Every figure is a whole process"
	echo "timed from the outside (/usr/bin/time); the tools alternate run by run and the order rotates; medians"
	echo "of every run, never single runs. The machine is shared with other work: the load average is noted under"
	echo "each table, and absolute times are noisier than the ratios of tools measured side by side."
	echo
	for s in B1 B2 B3 B4; do [[ -f $RES/$s.md ]] && cat "$RES/$s.md"; done
	[[ -f bench/notes.md ]] && cat bench/notes.md
} >"$OUT"
cat "$OUT"
