#!/usr/bin/env bash
# Fails when HEAD's protos break HEAD~1's, unless HEAD's commit message has a
# "Breaking-Change: <why>" line. The previous protos are exported with git
# archive and compared as plain folders, each with the same third-party
# protos, because buf cannot resolve imports from the ignored folder through
# a git input.
set -euo pipefail
buf=${BUF:-.bin/buf}
against=${1:-HEAD~1}

if ! git rev-parse -q --verify "$against^{commit}" >/dev/null; then
  echo "buf breaking: no $against to compare with; skipped"
  exit 0
fi
if ! git cat-file -e "$against:proto" 2>/dev/null; then
  echo "buf breaking: $against has no protos; skipped"
  exit 0
fi
if why=$(git log -1 --format=%B HEAD | grep -m1 '^Breaking-Change:'); then
  echo "buf breaking: skipped, HEAD says $why"
  exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/old" "$tmp/new"
git archive "$against" proto | tar -x -C "$tmp/old"
cp -r proto "$tmp/new/"
for side in old new; do cp -r .thirdparty/proto/. "$tmp/$side/proto/"; done
"$buf" breaking "$tmp/new/proto" --against "$tmp/old/proto" \
  --config '{"version":"v2","breaking":{"use":["FILE"],"ignore":["google","buf","protoc-gen-openapiv2"]}}' 
echo "buf breaking: no breaking change against $against"
