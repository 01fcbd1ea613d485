#!/bin/bash
# packd — few-shot visual anomaly detection
# Copyright (C) 2026 packd developers
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# One command from a fresh Debian bookworm checkout to a working packd:
#   1. installs the Debian packages listed in .ci/debian-packages (as root or via sudo)
#   2. configures and builds with meson into ./build
#   3. imports the pretrained teacher (models/import-teacher.sh)
#   4. runs the main job (pipelines/main-job.sh: inspects the bundled demo
#      boards and prints where the annotated output is)
#
# usage: ./setup.sh [--no-deps]
#   --no-deps  skip the package installation step
# Runs unattended (CI=true, no stdin): nothing prompts.
set -euo pipefail

say() { printf '\n== setup: %s\n' "$*"; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

install_deps=1
for arg in "$@"; do
  case "$arg" in
    --no-deps) install_deps=0 ;;
    -h|--help) sed -n '6,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument $arg (see --help)" ;;
  esac
done

cd "$(dirname "${BASH_SOURCE[0]}")"
readonly build_dir=build

# A package counts as present when it is installed or provided by an
# installed package (e.g. npm is provided by NodeSource's nodejs).
missing_packages() {
  local provided
  provided=$(dpkg-query -W -f='${db:Status-Status} ${Package}, ${Provides}\n' 2>/dev/null |
    awk '$1 == "installed" { $1 = ""; print }' | tr ',' '\n' |
    sed -e 's/([^)]*)//g' -e 's/:[a-z0-9]*//' -e 's/^ *//' -e 's/ *$//' | sort -u)
  local pkg
  while read -r pkg; do
    pkg="${pkg%%#*}"
    pkg="${pkg//[[:space:]]/}"
    [[ -n "$pkg" ]] || continue
    grep -qxF -- "$pkg" <<<"$provided" || printf '%s\n' "$pkg"
  done <.ci/debian-packages
}

install_dependencies() {
  say "checking Debian packages (.ci/debian-packages)"
  local -a missing
  mapfile -t missing < <(missing_packages)
  if (( ${#missing[@]} == 0 )); then
    echo "all packages present"
    return
  fi
  echo "missing: ${missing[*]}"
  local -a as_root=()
  if (( EUID != 0 )); then
    command -v sudo >/dev/null || die "not root and no sudo: install ${missing[*]} yourself, then run $0 --no-deps"
    as_root=(sudo)
  fi
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends "${missing[@]}"
}

build() {
  if [[ -f "$build_dir/meson-private/coredata.dat" ]]; then
    say "reconfiguring $build_dir"
    meson setup --reconfigure "$build_dir"
  else
    say "configuring $build_dir"
    meson setup "$build_dir"
  fi
  say "building"
  meson compile -C "$build_dir"
}

import_teacher() {
  say "importing the teacher"
  models/import-teacher.sh "$build_dir"
}

# The main job: inspect the bundled demo boards (pipelines/demo) with the
# default model and say where the annotated pictures are.
run_main_job() {
  say "main job: pipelines/main-job.sh"
  pipelines/main-job.sh "$build_dir"
}

if (( install_deps )); then
  install_dependencies
else
  say "skipping package installation (--no-deps)"
fi
build
import_teacher
run_main_job
say "done"
