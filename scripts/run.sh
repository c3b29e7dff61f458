#!/usr/bin/env bash
# The README's first command: install what is missing, build, and serve on 127.0.0.1:4566.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh --target vigil
exec build/vigil serve --listen "${VIGIL_LISTEN:-127.0.0.1:4566}" --data-dir "${VIGIL_DATA_DIR:-./vigil-data}" "$@"
