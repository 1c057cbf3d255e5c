#!/usr/bin/env bash
# Regenerates the README's picture of a rendered notice: docs/notices.html (written by
# `go run ./internal/preview` from the embedded fixtures through the real Slack and Discord payload
# builders) and docs/notices.png (a headless Chromium screenshot of it). Installs Chromium and the
# fonts it needs from Debian when they are missing (needs root). Run it after a template or payload
# change and commit both files. Chromium's own stderr (D-Bus noise in containers) is dropped; set
# VERBOSE=1 to see it.
set -euo pipefail
cd "$(dirname "$0")/.."

# The page is 1400 px wide (internal/preview/page.html); raise HEIGHT when the notices grow and the
# screenshot cuts them off.
WIDTH=${WIDTH:-1400}
HEIGHT=${HEIGHT:-1112}

# Lato stands in for Slack's font, Noto Sans for Discord's, Noto Color Emoji for the status emoji.
packages=(chromium fonts-lato fonts-noto-core fonts-noto-color-emoji)
if ! dpkg -s "${packages[@]}" >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y --no-install-recommends "${packages[@]}"
fi

go run ./internal/preview -out docs

rm -f docs/notices.png
log=/dev/null
if [ -n "${VERBOSE:-}" ]; then log=/dev/stderr; fi
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$profile" --hide-scrollbars --force-device-scale-factor=1 \
  --window-size="$WIDTH,$HEIGHT" --screenshot="$PWD/docs/notices.png" "file://$PWD/docs/notices.html" 2>"$log"

[ -s docs/notices.png ] || { echo "pictures: chromium wrote no docs/notices.png (run with VERBOSE=1)" >&2; exit 1; }
echo "wrote docs/notices.html and docs/notices.png ($(wc -c <docs/notices.png) bytes)"
