#!/usr/bin/env bash
# The runbook peer (B1): what CSM's "Restore Bare-Metal etcd Clusters from an
# S3 Snapshot" has the admin type to get the snapshot onto the masters:
# download the archive to local disk, gunzip it, untar it, then scp the dump
# to each master, one after another. Compression off (ssh's default, said
# explicitly), strict host keys from the lab's ssh_config.
#
#   bench/runbook.sh LAB_DIR KEY WORKDIR DEST_DIR HOST...
set -euo pipefail
lab=$1 key=$2 work=$3 dest=$4
shift 4
name=$(basename "$key" .tar.gz)
set -a
. "$lab/s3.env"
set +a
mkdir -p "$work/etcd_restore"
cd "$work/etcd_restore"
/usr/bin/aws --endpoint-url "$AWS_ENDPOINT_URL" s3 cp --only-show-errors "s3://etcd-backup/$key" "$name.tar.gz"
gunzip "$name.tar.gz"
tar -xf "$name.tar"
mv "$name/etcd-dump.bin" "$work/etcd-dump.bin"
for h in "$@"; do
	scp -q -F "$lab/ssh_config" -o Compression=no "$work/etcd-dump.bin" "$h:$dest/"
done
