#!/usr/bin/env bash
# Installs Debian's Chromium for the UI test (no browser download: Playwright drives /usr/bin/chromium).
# Idempotent; needs root (CI and the developer machines run as root). Prints the browser path.
set -euo pipefail
if ! command -v chromium >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends chromium >/dev/null 2>&1 || {
    apt-get update -qq >/dev/null
    apt-get install -y --no-install-recommends chromium >/dev/null
  }
fi
command -v chromium
