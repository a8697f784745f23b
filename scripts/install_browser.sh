#!/usr/bin/env bash
# Installs the headless browser the console's browser tests drive (Debian's chromium) and a CJK font
# so that Chinese text renders. Playwright cannot download its own browser builds here, so the tests
# launch this chromium by path. Idempotent: does nothing when chromium is already on PATH.
set -euo pipefail

packages=(chromium fonts-wqy-microhei)

if command -v chromium >/dev/null 2>&1; then
    exit 0
fi
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
    sudo_cmd=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive

# Refresh the package lists only when apt does not know the packages yet (a fresh machine has none).
if ! apt-cache show "${packages[@]}" >/dev/null 2>&1; then
    "${sudo_cmd[@]}" apt-get update -q
fi
"${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${packages[@]}"
command -v chromium >/dev/null
