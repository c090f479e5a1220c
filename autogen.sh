#!/bin/sh
# Prepare a checkout for ./configure.
#   ./autogen.sh          install missing build packages (Debian), run autoreconf
#   ./autogen.sh --test   the same, plus the packages the test suite needs
# The package names live in one place: debian-packages.
set -eu
cd "$(dirname "$0")"

want=build
[ "${1:-}" = "--test" ] && want="build test"

if command -v dpkg-query >/dev/null 2>&1; then
  missing=""
  for section in $want; do
    for p in $(sed -n "s/^$section: *//p" debian-packages); do
      dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
    done
  done
  if [ -n "$missing" ]; then
    echo "autogen.sh: installing Debian packages:$missing"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
  fi
else
  echo "autogen.sh: not a Debian system; install the packages in debian-packages by hand" >&2
fi

autoreconf -fi
