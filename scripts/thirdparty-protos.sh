#!/usr/bin/env bash
# Copies the third-party protos our contracts import out of their Go modules
# (pinned below) into an ignored folder. The buf schema registry is not
# needed, and nothing third-party is committed.
set -euo pipefail
out=${1:-.thirdparty/proto}

moddir() { go mod download -json "$1" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p'; }

gw1=$(moddir github.com/grpc-ecosystem/grpc-gateway@v1.16.0)
gw2=$(moddir github.com/grpc-ecosystem/grpc-gateway/v2@v2.33.0)
pv=$(moddir github.com/bufbuild/protovalidate@v1.2.2)

rm -rf "$out"
mkdir -p "$out/google/api" "$out/buf/validate" "$out/protoc-gen-openapiv2/options"
cp "$gw1"/third_party/googleapis/google/api/{annotations,http,httpbody}.proto "$out/google/api/"
cp "$pv"/proto/protovalidate/buf/validate/validate.proto "$out/buf/validate/"
cp "$gw2"/protoc-gen-openapiv2/options/{annotations,openapiv2}.proto "$out/protoc-gen-openapiv2/options/"
chmod -R u+w "$out"
