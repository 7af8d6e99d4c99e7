#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what the tests need when it
# is missing, then formatting, lints, and every test target.
set -euo pipefail
cd "$(dirname "$0")/.."

need_packages=()
command -v tmux >/dev/null 2>&1 || need_packages+=(tmux)
if [ ${#need_packages[@]} -gt 0 ]; then
    echo "installing ${need_packages[*]} (needed by the tests)"
    if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need_packages[@]}" >/dev/null
fi

# Tests read the terminal's locale through the binary; pin it so results do
# not depend on the machine.
export LANG=C.UTF-8

cargo fmt --check
cargo clippy --all-targets --locked -- -D warnings
cargo test --all-targets --locked
