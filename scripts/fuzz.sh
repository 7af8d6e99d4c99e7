#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 60) each, one after the other,
# on the nightly toolchain with cargo-fuzz (installed when absent). Each
# target's corpus is seeded from the test fixtures of its input; crashes
# land in fuzz/artifacts/<target>/ and make the script exit non-zero.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]     (all targets when none named)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
shift || true

if ! rustup toolchain list | grep -q '^nightly'; then
    echo "fuzz.sh: the nightly toolchain is needed (rustup toolchain install nightly)" >&2
    exit 2
fi
if ! command -v cargo-fuzz >/dev/null; then
    echo "fuzz.sh: installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked
fi

# target → fixture globs that seed it
seed() {
    local target="$1"; shift
    mkdir -p "fuzz/corpus/$target"
    for pattern in "$@"; do
        for file in $pattern; do
            if [ -f "$file" ]; then
                cp "$file" "fuzz/corpus/$target/seed-$(basename "$file")"
            fi
        done
    done
}
seed prometheus_response 'tests/fixtures/prometheus/*.json'
seed loki_query_range 'tests/fixtures/loki/*.json' 'tests/fixtures/loki/*.txt'
seed report_line 'tests/fixtures/drush/*.json'
seed agent_drush_output 'tests/fixtures/drush/*.json'
seed agent_spool
seed config_toml 'config.example.toml'
seed theme_toml 'themes/*.toml' 'tests/fixtures/themes/*.toml'
seed label_selector
seed sanitizer 'tests/fixtures/loki/query-range-hostile.json'
printf 'env="prod",team=~"web.*",site!="x"' > fuzz/corpus/label_selector/seed-selector

targets=("$@")
if [ "${#targets[@]}" -eq 0 ]; then
    mapfile -t targets < <(cargo +nightly fuzz list)
fi
failed=0
for target in "${targets[@]}"; do
    echo "== $target: ${seconds}s"
    if ! cargo +nightly fuzz run "$target" -- -max_total_time="$seconds" -print_final_stats=1 \
        2> >(tee "fuzz/$target.log" | grep -E '^(stat::number_of_executed_units|==[0-9]+==|SUMMARY|Done)' >&2); then
        echo "fuzz.sh: $target FAILED; see fuzz/artifacts/$target/ and fuzz/$target.log" >&2
        failed=1
    fi
done
exit "$failed"
