#!/usr/bin/env bash
# Starts a MinIO server for tests on loopback only: API on 127.0.0.1:9000,
# console on 127.0.0.1:9001, credentials minioadmin/minioadmin, which is what
# testenv.S3 tries by default (KINBRIDGE_TEST_S3_URL). The binary is built
# from a pinned pseudo-version into .bin/ the first time (about 2 minutes);
# there is no Debian package, and the proxy's @latest for it is not to be trusted.
#
#   scripts/minio.sh         start, unless it already answers; wait until it does
#   scripts/minio.sh stop    stop the server this script started (its pid file)
#
# Running it again while the server answers changes nothing, so CI can call it
# unconditionally. The server outlives the script on purpose: tests run after it.
set -euo pipefail
cd "$(dirname "$0")/.."

version=v0.0.0-20260212201848-7aac2a2c5b7c
bin_dir=${GOBIN:-$PWD/.bin}
# The version is in the name, so pinning another one builds it.
minio=${MINIO:-$bin_dir/minio-$version}
# One fixed place under the temp folder, so a second run finds the pid and the
# log of the first. Test buckets are removed by the tests; the data is
# disposable either way.
state=${MINIO_STATE_DIR:-${TMPDIR:-/tmp}/kinbridge-minio}
addr=127.0.0.1:9000
console=127.0.0.1:9001
health=http://$addr/minio/health/live

answers() { curl -fsS -o /dev/null --max-time 2 "$health" 2>/dev/null; }

if [[ ${1:-start} == stop ]]; then
  if [[ -f $state/minio.pid ]] && kill -0 "$(cat "$state/minio.pid")" 2>/dev/null; then
    kill "$(cat "$state/minio.pid")"
    echo "minio: stopped pid $(cat "$state/minio.pid")"
  else
    echo "minio: not started by this script; nothing to stop"
  fi
  rm -f "$state/minio.pid"
  exit 0
fi

# Built even when a server answers already: the cluster test starts MinIO
# hosts of its own from this binary.
if [[ ! -x $minio ]]; then
  echo "minio: building github.com/minio/minio@$version into $bin_dir (about 2 minutes)"
  mkdir -p "$(dirname "$minio")"
  tmp=$(mktemp -d)
  GOBIN=$tmp go install "github.com/minio/minio@$version"
  mv "$tmp/minio" "$minio"
  rmdir "$tmp"
fi

if answers; then
  echo "minio: already answering on $addr"
  exit 0
fi
# Something else on the port would make MinIO fail with a less clear message.
if timeout 2 bash -c "exec 3<>/dev/tcp/${addr%:*}/${addr#*:}" 2>/dev/null; then
  echo "minio: $addr is taken by something that does not answer $health" >&2
  exit 1
fi


mkdir -p "$state/data"
echo "minio: starting $minio on $addr (console $console), data in $state/data, log $state/minio.log"
# setsid detaches it from this shell's process group, so CI's job control
# neither waits for nor signals it; all three streams are redirected so no
# caller blocks on an inherited pipe.
MINIO_ROOT_USER=minioadmin MINIO_ROOT_PASSWORD=minioadmin \
  MINIO_UPDATE=off MINIO_BROWSER=on \
  setsid "$minio" server --quiet --address "$addr" --console-address "$console" "$state/data" \
  </dev/null >>"$state/minio.log" 2>&1 &
echo $! >"$state/minio.pid"

for _ in $(seq 1 60); do
  if answers; then
    echo "minio: answering on $addr"
    exit 0
  fi
  if ! kill -0 "$(cat "$state/minio.pid")" 2>/dev/null; then
    echo "minio: the server exited; last lines of $state/minio.log:" >&2
    tail -n 20 "$state/minio.log" >&2
    exit 1
  fi
  sleep 1
done
echo "minio: no answer on $health after 60s; last lines of $state/minio.log:" >&2
tail -n 20 "$state/minio.log" >&2
exit 1
