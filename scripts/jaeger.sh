#!/usr/bin/env bash
# Starts Jaeger (v2, in-memory storage) for tests on loopback only, with the
# config in scripts/jaeger.yaml: OTLP gRPC on 127.0.0.1:4317, the query HTTP
# API on 127.0.0.1:16686 (and its gRPC API on 127.0.0.1:16685). That is what
# e2e/jaeger_test.go looks for by default (KINBRIDGE_TEST_JAEGER_URL); point
# kinbridge at it with OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4317.
#
#   scripts/jaeger.sh         start, unless it already answers; wait until it does
#   scripts/jaeger.sh stop    stop the server this script started (its pid file)
#
# The binary is built into .bin/jaeger-<version> the first time (about 4 minutes and
# 2.3 GB of memory). There is no Debian package, and `go install` refuses the
# command because the module's go.mod has a replace directive; it builds all
# the same from a writable copy of the module. Such a build has no web UI;
# the JSON API (/api/services, /api/traces, /api/dependencies) works.
#
# Running it again while the server answers changes nothing, so CI can call it
# unconditionally. The server outlives the script on purpose: tests run after it.
set -euo pipefail
cd "$(dirname "$0")/.."

version=v1.76.0
bin_dir=${GOBIN:-$PWD/.bin}
# The version is in the name, so pinning another one builds it.
jaeger=${JAEGER:-$bin_dir/jaeger-$version}
config=$PWD/scripts/jaeger.yaml
# One fixed place under the temp folder, so a second run finds the pid and the
# log of the first. Traces live in memory only; nothing else is kept here.
state=${JAEGER_STATE_DIR:-${TMPDIR:-/tmp}/kinbridge-jaeger}
# scripts/jaeger.yaml reads these three; all stay on loopback.
export JAEGER_OTLP_GRPC=127.0.0.1:4317
export JAEGER_QUERY_HTTP=127.0.0.1:16686
export JAEGER_QUERY_GRPC=127.0.0.1:16685
api=http://$JAEGER_QUERY_HTTP/api/services

answers() { curl -fsS -o /dev/null --max-time 2 "$api" 2>/dev/null; }
taken() { timeout 2 bash -c "exec 3<>/dev/tcp/${1%:*}/${1#*:}" 2>/dev/null; }

if [[ ${1:-start} == stop ]]; then
  if [[ -f $state/jaeger.pid ]] && kill -0 "$(cat "$state/jaeger.pid")" 2>/dev/null; then
    pid=$(cat "$state/jaeger.pid")
    kill "$pid"
    # Wait for the ports to be free, so a start right after this one works.
    for _ in $(seq 1 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    echo "jaeger: stopped pid $pid"
  else
    echo "jaeger: not started by this script; nothing to stop"
  fi
  rm -f "$state/jaeger.pid"
  exit 0
fi

if answers; then
  echo "jaeger: already answering on $JAEGER_QUERY_HTTP"
  exit 0
fi
# Something else on a port would make Jaeger fail with a less clear message.
for addr in "$JAEGER_OTLP_GRPC" "$JAEGER_QUERY_HTTP" "$JAEGER_QUERY_GRPC"; do
  if taken "$addr"; then
    echo "jaeger: $addr is taken by something that does not answer $api" >&2
    exit 1
  fi
done

if [[ ! -x $jaeger ]]; then
  echo "jaeger: building github.com/jaegertracing/jaeger@$version into $jaeger (about 4 minutes on an idle machine, 2.3 GB of memory)"
  work=$(mktemp -d "${TMPDIR:-/tmp}/kinbridge-jaeger-build.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  # Downloaded from outside any module, so this repository's go.sum is left alone.
  mod_dir=$(cd "$work" && GOFLAGS= go mod download -json "github.com/jaegertracing/jaeger@$version" |
    sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  if [[ -z $mod_dir || ! -d $mod_dir ]]; then
    echo "jaeger: go mod download did not give the module's folder" >&2
    exit 1
  fi
  # The module cache is read-only, and the build must run inside the module
  # (its go.mod, replace directive included), so it runs in a writable copy.
  cp -R "$mod_dir" "$work/src"
  chmod -R u+w "$work/src"
  mkdir -p "$(dirname "$jaeger")"
  (cd "$work/src" && GOWORK=off GOFLAGS= go build -o "$jaeger.tmp" ./cmd/jaeger)
  mv "$jaeger.tmp" "$jaeger"
  rm -rf "$work"
  trap - EXIT
fi

mkdir -p "$state"
echo "jaeger: starting $jaeger with $config: OTLP gRPC $JAEGER_OTLP_GRPC, query http://$JAEGER_QUERY_HTTP, log $state/jaeger.log"
# setsid detaches it from this shell's process group, so CI's job control
# neither waits for nor signals it; all three streams are redirected so no
# caller blocks on an inherited pipe.
setsid "$jaeger" --config "$config" </dev/null >>"$state/jaeger.log" 2>&1 &
echo $! >"$state/jaeger.pid"

for _ in $(seq 1 60); do
  if answers; then
    echo "jaeger: answering on $JAEGER_QUERY_HTTP"
    exit 0
  fi
  if ! kill -0 "$(cat "$state/jaeger.pid")" 2>/dev/null; then
    echo "jaeger: the server exited; last lines of $state/jaeger.log:" >&2
    tail -n 20 "$state/jaeger.log" >&2
    exit 1
  fi
  sleep 1
done
echo "jaeger: no answer on $api after 60s; last lines of $state/jaeger.log:" >&2
tail -n 20 "$state/jaeger.log" >&2
exit 1
