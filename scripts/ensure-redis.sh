#!/usr/bin/env bash
# The cluster and cache tests (test/cluster, test/cache) and the Redis benches start their own
# redis-server processes on loopback. Installs Debian's redis-server when it is missing, and openssl
# (the cache tests make a CA and a server certificate for a TLS instance); nothing is started here.
set -euo pipefail
# Redis Functions (FUNCTION LOAD: the journal's fenced append) need Redis 7.0 or later.
check_version() {
  local version
  version="$(redis-server --version | sed -n 's/.*v=\([0-9][0-9]*\)\..*/\1/p')"
  echo "ensure-redis: $(redis-server --version | head -n 1)"
  if [ -z "$version" ] || [ "$version" -lt 7 ]; then
    echo "ensure-redis: Redis 7.0 or later is needed (Functions); install it from packages.redis.io or use Valkey" >&2
    exit 1
  fi
}
if command -v redis-server >/dev/null 2>&1 && command -v openssl >/dev/null 2>&1; then
  check_version
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-redis: redis-server or openssl is missing and there is no apt-get here: install Redis 7+ (or Valkey) and openssl" >&2
  exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends redis-server openssl
# Debian's package starts a system instance; the tests use their own on free ports.
(command -v systemctl >/dev/null 2>&1 && $sudo systemctl stop redis-server 2>/dev/null) || true
check_version
