#!/usr/bin/env bash
# Installs Vigil's build, test and benchmark dependencies from Debian 12's packages, only
# if something is missing (a second run costs one dpkg query).
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config
  libboost-dev librocksdb-dev libsnappy-dev libbz2-dev libsimdjson-dev libre2-dev libzstd-dev liblz4-dev
  libtomlplusplus-dev libpugixml-dev libssl-dev zlib1g-dev libsqlite3-dev
  libgtest-dev libbenchmark-dev clang libclang-rt-14-dev
  python3 python3-boto3 awscli wrk
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "installing: ${missing[*]}"
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
