#!/usr/bin/env bash
# Idle CPU of the dashboard: runs `site-status demo` in a detached 200x50
# tmux session, lets it settle, then reads the process's CPU time
# (utime + stime of all its threads, /proc/PID/stat) over a window with no
# input. Results are for BENCHMARKS.md.
#
# Usage: benches/idle_cpu.sh [--sites N] [--keys KEYS] [--seconds S] [--settle S]
#   --sites N    demo fleet size (default: the demo's default, 320)
#   --keys KEYS  tmux key names sent once before settling, e.g. z for compact
#   --seconds S  measurement window (default 60)
#   --settle S   wait after start (and keys) before measuring (default 5)
#
# Runs the tmux session on its own socket, so no other tmux server or
# session is touched, and ends exactly that session on exit.
set -euo pipefail

sites=""
keys=""
seconds=60
settle=5
while [ $# -gt 0 ]; do
    case "$1" in
        --sites) sites="$2"; shift 2 ;;
        --keys) keys="$2"; shift 2 ;;
        --seconds) seconds="$2"; shift 2 ;;
        --settle) settle="$2"; shift 2 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done

cd "$(dirname "$0")/.."
cargo build --release --quiet
bin="${CARGO_TARGET_DIR:-$PWD/target}/release/site-status"

socket="site-status-idle-$$"
session="idle-$$"
tmux_() { tmux -L "$socket" "$@"; }
cleanup() {
    tmux_ kill-session -t "$session" 2>/dev/null || true
    rm -f "${TMUX_TMPDIR:-/tmp}/tmux-$(id -u)/$socket"
}
trap cleanup EXIT

args=(demo)
[ -n "$sites" ] && args+=(--sites "$sites")
# `exec` so the pane's process is site-status itself, not a shell.
tmux_ new-session -d -s "$session" -x 200 -y 50 \
    "LANG=C.UTF-8 exec $bin ${args[*]}"
pid="$(tmux_ list-panes -t "$session" -F '#{pane_pid}')"
sleep 1
if [ "$(cat "/proc/$pid/comm")" != "site-status" ]; then
    echo "pane process $pid is $(cat "/proc/$pid/comm"), not site-status" >&2
    exit 1
fi
if [ -n "$keys" ]; then
    tmux_ send-keys -t "$session" $keys
fi
sleep "$settle"

tck="$(getconf CLK_TCK)"
# utime and stime are fields 14 and 15; cut at the ")" closing the command
# name first, since a name may contain spaces.
cpu_ticks() { sed 's/^.*) //' "/proc/$pid/stat" | awk '{ print $12 + $13 }'; }
# Nanoseconds on CPU of the live threads (first field of schedstat): a
# finer-grained cross-check of the tick count above.
run_ns() { cat /proc/"$pid"/task/*/schedstat | awk '{ n += $1 } END { printf "%d", n }'; }
# Context switches of every thread: how often the process wakes up.
switches() {
    cat /proc/"$pid"/task/*/status |
        awk '/^(non)?voluntary_ctxt_switches/ { n += $2 } END { print n }'
}

t0="$(cpu_ticks)"; n0="$(run_ns)"; s0="$(switches)"; start="$(date +%s.%N)"
sleep "$seconds"
t1="$(cpu_ticks)"; n1="$(run_ns)"; s1="$(switches)"; end="$(date +%s.%N)"
kill -0 "$pid" 2>/dev/null || { echo "site-status exited during the run" >&2; exit 1; }

screen="$(tmux_ capture-pane -p -t "$session")"
awk -v t0="$t0" -v t1="$t1" -v tck="$tck" -v s0="$s0" -v s1="$s1" -v n0="$n0" -v n1="$n1" \
    -v start="$start" -v end="$end" -v sites="${sites:-default}" -v keys="${keys:-none}" \
    -v threads="$(ls /proc/"$pid"/task | wc -l)" 'BEGIN {
    wall = end - start; cpu = (t1 - t0) / tck
    printf "sites=%s keys=%s window=%.1fs threads=%d\n", sites, keys, wall, threads
    printf "cpu=%.2fs (%d ticks at %d/s) = %.3f%% of one core\n", cpu, t1 - t0, tck, 100 * cpu / wall
    printf "schedstat run time=%.3fs (%.3f%%); context switches=%d (%.1f/s)\n",
        (n1 - n0) / 1e9, 100 * (n1 - n0) / 1e9 / wall, s1 - s0, (s1 - s0) / wall
}'
# The header and status lines show what was measured (fleet size, modes).
echo "screen: $(head -n 1 <<<"$screen" | sed 's/  */ /g')"
echo "screen: $(tail -n 2 <<<"$screen" | head -n 1 | sed 's/  */ /g')"
