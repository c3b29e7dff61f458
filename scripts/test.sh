#!/usr/bin/env bash
# The README's second command: install what is missing, build everything, run every test
# (unit + integration with both AWS CLIs and both boto3s). Ends with CTest's summary.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
cd "${BUILD_DIR:-build}"
ctest --output-on-failure -j"$(nproc)" "$@"
