#!/usr/bin/env bash
# Fails when the working tree's protos break those of a commit (default
# HEAD~1), unless HEAD's commit message has a "Breaking-Change: <why>" line.
# Each side is laid out as one plain folder: its proto/ with its
# third_party/proto/ copied in, the third-party directories ignored. (A
# two-module workspace would not do: buf breaking judges its third-party
# module despite buf.yaml's ignore.) A commit from before the third-party
# protos were committed gets today's copy, which is what its ignored
# .thirdparty/ folder held.
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
cp -r proto "$tmp/new/"
cp -r third_party/proto/. "$tmp/new/proto/"
git archive "$against" proto | tar -x -C "$tmp/old"
if git cat-file -e "$against:third_party/proto" 2>/dev/null; then
  git archive "$against" third_party/proto | tar -x -C "$tmp/old"
  cp -r "$tmp/old/third_party/proto/." "$tmp/old/proto/"
else
  cp -r third_party/proto/. "$tmp/old/proto/"
fi
ignore=$( (ls third_party/proto; [[ ! -d $tmp/old/third_party/proto ]] || ls "$tmp/old/third_party/proto") |
  sort -u | sed 's/.*/"&"/' | paste -sd, -)
# Inputs outside the working directory, so buf takes --config as their
# whole configuration rather than this repository's buf.yaml.
"$buf" breaking "$tmp/new/proto" --against "$tmp/old/proto" \
  --config '{"version":"v2","breaking":{"use":["FILE"],"ignore":['"$ignore"']}}'
echo "buf breaking: no breaking change against $against"
