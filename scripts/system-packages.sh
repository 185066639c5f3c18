#!/usr/bin/env bash
# The Debian packages a command needs, installed when missing. `make book`, `make test` and
# .ci/run call this first, so a fresh machine fails (or installs) in seconds, not after the
# twenty minutes of work that come before the first test that needs the package.
#
#   scripts/system-packages.sh book|test
#
# As root: apt-get installs what is missing. Not root: prints the exact command and exits 1.
# SYSTEM_PACKAGES=skip (make test SYSTEM_PACKAGES=skip) goes on without them; the tests that
# need a missing package then skip, naming it.
set -euo pipefail

target=${1:?usage: scripts/system-packages.sh book|test}

# package:command that shows it is installed (a command on PATH, or a /path/glob for
# programs kept off PATH, as Debian keeps PostgreSQL's server programs)
case $target in
  book) wanted=() ;;  # the book builds with Python packages only
  # the browser tests; the grader's sandbox; npm installs axe-core for the accessibility test;
  # the tests of a PostgreSQL gradebook start a private server of their own
  test) wanted=(chromium:chromium bubblewrap:bwrap npm:npm
                "postgresql:/usr/lib/postgresql/*/bin/initdb") ;;
  *) echo "system-packages.sh: unknown target '$target' (book or test)" >&2; exit 2 ;;
esac

installed() {
  case $1 in
    /*) compgen -G "$1" >/dev/null ;;
    *) command -v "$1" >/dev/null 2>&1 ;;
  esac
}

missing=()
for entry in ${wanted[@]+"${wanted[@]}"}; do
  installed "${entry#*:}" || missing+=("${entry%%:*}")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "${SYSTEM_PACKAGES:-}" = skip ]; then
  echo "make $target: going on without ${missing[*]} (SYSTEM_PACKAGES=skip);" \
    "the tests that need them will skip" >&2
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  cat >&2 <<EOF
make $target needs these Debian packages, which are not installed: ${missing[*]}
Install them as root, then run make $target again:

    sudo apt-get update && sudo apt-get install -y ${missing[*]}

(or run make $target SYSTEM_PACKAGES=skip: the tests that need them then skip)
EOF
  exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
  cat >&2 <<EOF
make $target needs ${missing[*]}, and this machine has no apt-get to install them.
Install them with your system's package manager, then run make $target again
(or run make $target SYSTEM_PACKAGES=skip: the tests that need them then skip).
EOF
  exit 1
fi

echo "make $target: installing Debian packages: ${missing[*]} (apt-get, about a minute)" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
for entry in ${wanted[@]+"${wanted[@]}"}; do
  if ! installed "${entry#*:}"; then
    echo "make $target: ${entry%%:*} installed, but '${entry#*:}' is still not found" >&2
    exit 1
  fi
done
