#!/bin/bash
# A stand-in for kubectl, for the unit tests of the heal phases: it serves
# the lists in $FAKE_DIR, records every call in $FAKE_DIR/calls, and keeps
# the state of replaced CronJobs and deleted pods in files there.
set -euo pipefail
d=$FAKE_DIR
args=()
while (($#)); do
	case $1 in
	--kubeconfig) [[ $2 == "$FAKE_KUBECONFIG" ]] || { echo "fake: wrong kubeconfig $2" >&2; exit 9; }; shift 2 ;;
	--request-timeout) shift 2 ;;
	*) args+=("$1"); shift ;;
	esac
done
printf '%s\n' "${args[*]}" >>"$d/calls"
set -- "${args[@]}"
ns=
if [[ $1 == -n ]]; then ns=$2; shift 2; fi
case "$1 $2" in
"get --raw")
	if [[ -e $d/down ]]; then
		echo "The connection to the server 127.0.0.1:6443 was refused - did you specify the right host or port?" >&2
		exit 1
	fi
	case $3 in
	/readyz) echo ok ;;
	*) printf '{"kind":"List","apiVersion":"v1","metadata":{"resourceVersion":"%s"},"items":[]}\n' "$(cat "$d/list-rv" 2>/dev/null || echo 100)" ;;
	esac ;;
"get cronjobs.batch")
	if [[ $3 == -A ]]; then
		if [[ -e $d/replaced-any ]]; then cat "$d/cronjobs-after.json"; else cat "$d/cronjobs.json"; fi
	else
		name=$3
		if [[ -e $d/uid-$ns-$name ]]; then cat "$d/uid-$ns-$name"; elif [[ " $* " == *" --ignore-not-found "* ]]; then :; else
			echo "Error from server (NotFound): cronjobs.batch \"$name\" not found" >&2; exit 1; fi
	fi ;;
"get jobs.batch") cat "$d/jobs.json" ;;
"get pods")
	if [[ $3 == -A ]]; then
		if [[ -e $d/deleted-any ]]; then cat "$d/pods-after.json"; else cat "$d/pods.json"; fi
	else
		p=${!#}
		[[ -e $d/deleted-$ns-$p ]] || echo "pod/$p"
	fi ;;
"replace --dry-run=server")
	cat >"$d/dryrun-$(date +%s%N).json"
	[[ ! -e $d/refuse ]] || { echo 'The CronJob "x" is invalid: spec.jobTemplate: Invalid value' >&2; exit 1; } ;;
"replace --force")
	m=$(cat)
	name=$(printf '%s' "$m" | sed -n 's/.*"metadata":{[^}]*"name":"\([^"]*\)".*/\1/p')
	[[ -n $name ]] || name=$(printf '%s' "$m" | grep -o '"name":"[^"]*"' | head -n1 | cut -d'"' -f4)
	mns=$(printf '%s' "$m" | grep -o '"namespace":"[^"]*"' | head -n1 | cut -d'"' -f4)
	printf '%s\n' "$m" >"$d/manifest-$mns-$name.json"
	echo "cronjob.batch \"$name\" deleted"
	printf 'new-%s' "$name" >"$d/uid-$mns-$name"
	touch "$d/replaced-any"
	echo "cronjob.batch/$name replaced" ;;
"delete pods")
	shift 2
	while [[ $1 != -- ]]; do shift; done
	shift
	for p in "$@"; do
		if [[ -e $d/stuck-$ns-$p ]]; then continue; fi
		touch "$d/deleted-$ns-$p" "$d/deleted-any"
		echo "pod \"$p\" deleted"
	done ;;
*) echo "fake kubectl: unexpected: $*" >&2; exit 9 ;;
esac
