#!/usr/bin/env sh
# DynamoDB Local (the history tests and bench:history) runs on Java. A CI machine of this kind has
# Java 17; a fresh one without it gets the distribution's headless JRE. Nothing else is installed.
set -eu
if command -v java >/dev/null 2>&1; then
  java -version 2>&1 | head -n 1
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-java: java is missing and this is not an apt-based system; install a Java 11+ runtime" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends default-jre-headless
java -version 2>&1 | head -n 1
