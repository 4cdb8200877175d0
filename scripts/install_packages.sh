#!/usr/bin/env bash
# Installs the Debian packages named after the label that are not installed yet (one
# apt-get call, as root or through sudo); does nothing when all are present. Used by
# scripts/setup.sh and bench/run.sh. Usage: bash scripts/install_packages.sh LABEL PKG...
set -euo pipefail
label=$1
shift
missing=()
for p in "$@"; do
  dpkg -s "$p" 2>/dev/null | grep -q '^Status: install ok installed' || missing+=("$p")
done
((${#missing[@]})) || exit 0
SUDO=()
[[ $(id -u) -eq 0 ]] || SUDO=(sudo)
echo "$label: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update
"${SUDO[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
