#!/usr/bin/env bash
# Installs Debian's Chromium for the dashboard tests (test/web/) and `npm run bench:dashboard` when it
# is missing. playwright-core drives this browser (executablePath /usr/bin/chromium); nothing is ever
# downloaded by Playwright itself. Called by .ci/run before `npm test`. Needs root (or sudo) and apt.
set -euo pipefail

chromium="${BOURSE_CHROMIUM:-/usr/bin/chromium}"
if [ -x "$chromium" ]; then
  echo "ensure-chromium: $("$chromium" --version 2>/dev/null | tail -n 1)"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-chromium: $chromium is missing and there is no apt-get here: install Chromium and set BOURSE_CHROMIUM" >&2
  exit 1
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
    echo "ensure-chromium: installing Chromium needs root (or sudo)" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends chromium fonts-liberation fonts-dejavu-core
echo "ensure-chromium: $("$chromium" --version 2>/dev/null | tail -n 1)"
