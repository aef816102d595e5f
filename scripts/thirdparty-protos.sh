#!/usr/bin/env bash
# third_party/proto holds, committed, the third-party protos our contracts
# import (and their licences), so that buf works on a fresh clone, with or
# without Go. The list below is the one place saying which file comes from
# which pinned Go module; the buf schema registry is never needed.
#
#   scripts/thirdparty-protos.sh         copy the listed files into third_party/proto (after editing the list)
#   scripts/thirdparty-protos.sh check   fail unless third_party/proto is exactly the listed files, byte for byte
set -euo pipefail
cd "$(dirname "$0")/.."
dest=third_party/proto

# One file a line: module@version, the file's path in the module, its path
# under third_party/proto (the import path).
list() {
  cat <<'EOF'
github.com/grpc-ecosystem/grpc-gateway@v1.16.0     third_party/googleapis/LICENSE                         google/LICENSE
github.com/grpc-ecosystem/grpc-gateway@v1.16.0     third_party/googleapis/google/api/annotations.proto    google/api/annotations.proto
github.com/grpc-ecosystem/grpc-gateway@v1.16.0     third_party/googleapis/google/api/http.proto           google/api/http.proto
github.com/grpc-ecosystem/grpc-gateway@v1.16.0     third_party/googleapis/google/api/httpbody.proto       google/api/httpbody.proto
github.com/bufbuild/protovalidate@v1.2.2           LICENSE                                                buf/LICENSE
github.com/bufbuild/protovalidate@v1.2.2           proto/protovalidate/buf/validate/validate.proto        buf/validate/validate.proto
github.com/grpc-ecosystem/grpc-gateway/v2@v2.33.0  LICENSE                                                protoc-gen-openapiv2/LICENSE
github.com/grpc-ecosystem/grpc-gateway/v2@v2.33.0  protoc-gen-openapiv2/options/annotations.proto         protoc-gen-openapiv2/options/annotations.proto
github.com/grpc-ecosystem/grpc-gateway/v2@v2.33.0  protoc-gen-openapiv2/options/openapiv2.proto           protoc-gen-openapiv2/options/openapiv2.proto
EOF
}

# copy DIR writes every listed file into DIR, which must not exist.
copy() {
  local out=$1 mod src dst
  local -A dirs=()
  mkdir -p "$out"
  while read -r mod src dst; do
    if [[ -z ${dirs[$mod]:-} ]]; then
      dirs[$mod]=$(go mod download -json "$mod" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
      [[ -n ${dirs[$mod]} ]] || { echo "thirdparty-protos: go mod download $mod gave no folder" >&2; exit 1; }
    fi
    mkdir -p "$out/$(dirname "$dst")"
    cp "${dirs[$mod]}/$src" "$out/$dst"
  done < <(list)
  chmod -R u+w "$out" # the module cache is read-only
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
copy "$tmp/proto"
case ${1:-copy} in
copy)
  rm -rf "$dest"
  mkdir -p "$(dirname "$dest")"
  cp -r "$tmp/proto" "$dest"
  ;;
check)
  if ! diff -r "$tmp/proto" "$dest" >"$tmp/diff"; then
    sed "s|$tmp/proto|(pinned modules)|g" "$tmp/diff" | head -40
    echo "$dest is not exactly what scripts/thirdparty-protos.sh lists: run it (make thirdparty) and commit" >&2
    exit 1
  fi
  ;;
*)
  echo "usage: $0 [copy|check]" >&2
  exit 2
  ;;
esac
