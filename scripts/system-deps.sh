#!/usr/bin/env bash
# Install the Debian packages the tests and the demo need, when they are missing.
# Daemons are never started here: the tests start their own instances on 127.0.0.1.
set -euo pipefail
PACKAGES=(zstd knot dovecot-imapd chromium libsisimai-perl postfix)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing Debian packages: ${missing[*]}"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >/dev/null
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
