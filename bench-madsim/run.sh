#!/usr/bin/env bash
# Builds madsim in simulation mode and runs the timer wake-up workload on madsim and on
# costream in one process; prints both rates and the ratio.
set -euo pipefail
cd "$(dirname "$0")"
RUSTFLAGS="--cfg madsim" cargo run --release --quiet -- "$@"
