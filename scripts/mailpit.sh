#!/usr/bin/env bash
# Builds Mailpit, the SMTP server with an HTTP API that the digest tests mail
# to (pkg/testenv.StartMailpit), into .bin/mailpit-<version> from its pinned
# module, unless it is there already (about a minute). Unlike MinIO and Jaeger
# nothing is started here: every test starts its own Mailpit on ephemeral
# ports, so tests never see each other's mail.
#
#   scripts/mailpit.sh         build unless built; print the binary's path
#
# testenv looks for the binary in KINBRIDGE_TEST_MAILPIT, then at the path
# this script prints, then as `mailpit` on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."

# Keep in step with testenv.MailpitVersion.
version=v1.33.1
bin_dir=${GOBIN:-$PWD/.bin}
# The version is in the name, so pinning another one builds it.
mailpit=${MAILPIT:-$bin_dir/mailpit-$version}

if [[ ! -x $mailpit ]]; then
  echo "mailpit: building github.com/axllent/mailpit@$version into $bin_dir (about a minute)" >&2
  mkdir -p "$(dirname "$mailpit")"
  tmp=$(mktemp -d)
  GOBIN=$tmp go install "github.com/axllent/mailpit@$version"
  mv "$tmp/mailpit" "$mailpit"
  rmdir "$tmp"
fi
echo "$mailpit"
