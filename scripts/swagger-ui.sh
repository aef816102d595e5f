#!/usr/bin/env bash
# gateway/docs/swagger-ui holds, committed and embedded in the binary, the
# files of swagger-ui-dist (pinned in gateway/docs/package.json and its
# lock) that the /docs page loads, and their licences. Nothing else of the
# package is kept.
#
#   scripts/swagger-ui.sh         install the pinned package and copy the files (make docs-ui)
#   scripts/swagger-ui.sh check   fail unless gateway/docs/swagger-ui is exactly those files, byte for byte
set -euo pipefail
cd "$(dirname "$0")/../gateway/docs"
files=(swagger-ui-bundle.js swagger-ui-bundle.js.LICENSE.txt swagger-ui.css favicon-32x32.png LICENSE NOTICE)

# The package is installed in a folder of its own, so neither mode writes
# anything under gateway/docs but the copy.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp package.json package-lock.json "$tmp/"
(cd "$tmp" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
mkdir "$tmp/want"
for f in "${files[@]}"; do cp "$tmp/node_modules/swagger-ui-dist/$f" "$tmp/want/"; done

case ${1:-copy} in
copy)
  rm -rf swagger-ui
  cp -r "$tmp/want" swagger-ui
  ;;
check)
  if ! out=$(diff -r -q "$tmp/want" swagger-ui); then
    echo "${out//$tmp\/want/(pinned swagger-ui-dist)}"
    echo "gateway/docs/swagger-ui is not exactly the files scripts/swagger-ui.sh copies from the pinned swagger-ui-dist: run make docs-ui and commit" >&2
    exit 1
  fi
  ;;
*)
  echo "usage: $0 [copy|check]" >&2
  exit 2
  ;;
esac
