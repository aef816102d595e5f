#!/usr/bin/env bash
# Fails when the working tree's protos break those of a commit (default
# HEAD~1), unless HEAD's commit message has a "Breaking-Change: <why>" line.
# Both sides are laid out as plain folders with today's buf.yaml (so its
# breaking rules judge, and the third-party module is ignored as in lint):
# proto/ and third_party/proto/ from each side. A commit from before the
# third-party protos were committed gets today's copy, which is what its
# ignored folder held.
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
mkdir -p "$tmp/old" "$tmp/new/third_party"
cp -r proto buf.yaml "$tmp/new/"
cp -r third_party/proto "$tmp/new/third_party/"
git archive "$against" proto | tar -x -C "$tmp/old"
if git cat-file -e "$against:third_party/proto" 2>/dev/null; then
  git archive "$against" third_party/proto | tar -x -C "$tmp/old"
else
  cp -r "$tmp/new/third_party" "$tmp/old/"
fi
cp buf.yaml "$tmp/old/"
"$buf" breaking "$tmp/new" --against "$tmp/old"
echo "buf breaking: no breaking change against $against"
