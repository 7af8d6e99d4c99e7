#!/usr/bin/env bash
# What one site's agent container uses, measured on the real Drupal site
# (../shared/drupal, or SITE_STATUS_DRUPAL_DIR): the figures behind the
# requests and limits in deploy/kubernetes/base/deployment.yaml and the
# README's "What the agents cost" table. Rerun it after a change to the
# agent, the default command or the site:
#
#   scripts/agent-cost.sh             # 12 runs, one every 5 s
#   RUNS=30 scripts/agent-cost.sh
#
# It runs the shipped static binary (built with the documented command when
# SITE_STATUS_AGENT_BIN is not set) as the Deployment runs it: the default
# drush command as its child, HOME and TMPDIR on a folder of their own, a
# spool. Loki's URL points at a closed port, so every report stays in the
# spool: its size per report is what an outage fills. Each drush run
# goes through /usr/bin/time, which reports drush's peak RSS and CPU
# seconds exactly (getrusage of the waited-for child) rather than sampled.
# The agent's own RSS is sampled from /proc every 5 ms, and so is the sum
# of the proportional set size (PSS) over the agent and all its
# descendants: what the container's memory holds at that moment, each
# shared page counted once.
#
# The v1 CronJob's check ran drush twice in a fresh pod (the whole report,
# then --severity=2 for the errors): those two runs are measured the same
# way, without the pod start, which is not measurable here.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
runs=${RUNS:-12}
interval=5

command -v /usr/bin/time >/dev/null || { echo "needs /usr/bin/time (Debian: time)" >&2; exit 1; }
work=$(mktemp -d)
agent_pid=
cleanup() {
    [ -n "$agent_pid" ] && kill "$agent_pid" 2>/dev/null && wait "$agent_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

shared=${SITE_STATUS_DRUPAL_DIR:-$root/../shared/drupal}
drush=$("$shared/setup.sh" "$work/site")

bin=${SITE_STATUS_AGENT_BIN:-}
if [ -z "$bin" ]; then
    RUSTFLAGS="-C target-feature=+crt-static" cargo build --profile agent -p site-status-agent --target x86_64-unknown-linux-gnu >&2
    bin=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')/x86_64-unknown-linux-gnu/agent/site-status-agent
fi

mkdir -p "$work/home" "$work/spool"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
rusage="$work/drush-rusage"
: >"$rusage"

# The v1 check first, on a cold PHP as a fresh pod has it.
v1="$work/v1-rusage"
for extra in "" "--severity=2"; do
    # shellcheck disable=SC2086
    HOME="$work/home" TMPDIR="$work/home" /usr/bin/time -a -o "$v1" -f '%M %U %S %e' \
        "$drush" core-requirements --format=json $extra >/dev/null 2>&1
done

HOME="$work/home" TMPDIR="$work/home" "$bin" \
    --site cost --env measure --profile standard \
    --listen "127.0.0.1:$port" --interval "${interval}s" --splay 0 \
    --spool "$work/spool" --loki-url http://127.0.0.1:9 --status-command "$drush status --format=json" \
    -- /usr/bin/time -a -o "$rusage" -f '%M %U %S %e' \
    "$drush" core-requirements --format=json --fields=title,severity,sid,description,value \
    2>"$work/agent.log" &
agent_pid=$!

python3 - "$agent_pid" "$rusage" "$v1" "$runs" "$port" "$work" <<'PY'
import json, os, statistics, sys, time, urllib.request

pid, rusage, v1, runs, port, work = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5], sys.argv[6]
page = os.sysconf("SC_PAGE_SIZE")
ticks = os.sysconf("SC_CLK_TCK")

def status(p, key):
    try:
        for line in open(f"/proc/{p}/status"):
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        return 0
    return 0

def pss(p):
    # Proportional: a page shared by n processes counts 1/n in each, so
    # the sum over the tree counts it once (a PHP that forks before an exec
    # would otherwise count twice).
    try:
        for line in open(f"/proc/{p}/smaps_rollup"):
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        return 0
    return 0

def descendants(p):
    found, todo = [], [p]
    while todo:
        q = todo.pop()
        try:
            for task in os.listdir(f"/proc/{q}/task"):
                for c in open(f"/proc/{q}/task/{task}/children").read().split():
                    if int(c) not in found:
                        found.append(int(c))
                        todo.append(int(c))
        except OSError:
            pass
    return found

def cpu_seconds(p):
    fields = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / ticks

def lines(path):
    return [l.split() for l in open(path) if l[0].isdigit()]

def ready():
    try:
        return urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1).status == 200
    except OSError:
        return False

started = time.monotonic()
while not ready():
    if time.monotonic() - started > 60:
        sys.exit("the agent did not become ready within 60 s")
    time.sleep(0.01)
ready_after = time.monotonic() - started
idle_before_first_run = status(pid, "VmRSS")

agent_busy, agent_idle, tree = [], [], []
peak_processes = []

def parent(p):
    try:
        return int(open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0

def comm(p):
    try:
        return open(f"/proc/{p}/comm").read().strip()
    except OSError:
        return "?"
while len(lines(rusage)) < runs:
    kids = descendants(pid)
    rss = status(pid, "VmRSS")
    (agent_busy if kids else agent_idle).append(rss)
    # A PHP that forks to exec `stty -a` (Symfony's terminal size, three
    # times a run) has, until the exec, a child sharing every page with it
    # copy-on-write: one set of pages, which the cgroup charges once.
    forks = {k for k in kids if comm(k) == comm(parent(k))}
    each = [(f"{comm(k)} ({k})", pss(k)) for k in kids if k not in forks]
    own = pss(pid)
    total = own + sum(r for _, r in each)
    if total > max(tree, default=0):
        peak_processes = [("site-status-agent", own)] + each
    tree.append(total)
    time.sleep(0.005)
time.sleep(0.5)
cpu = cpu_seconds(pid)
hwm = status(pid, "VmHWM")

def du(path):
    total = 0
    for d, _, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(d, f)).st_blocks * 512
            except OSError:
                pass
    return total

drush = lines(rusage)
peak = [int(l[0]) for l in drush]
cpu_run = [float(l[1]) + float(l[2]) for l in drush]
wall = [float(l[3]) for l in drush]
old = lines(v1)
result = {
    "runs": len(drush),
    "ready_after_start_seconds": round(ready_after, 2),
    "agent_rss_kb_before_first_run": idle_before_first_run,
    "agent_rss_kb_between_runs_max": max(agent_idle, default=0),
    "agent_rss_kb_during_runs_max": max(agent_busy, default=0),
    "agent_vmhwm_kb": hwm,
    "agent_cpu_seconds_total": round(cpu, 3),
    "agent_cpu_seconds_per_run": round(cpu / len(drush), 4),
    "drush_peak_rss_kb_median": int(statistics.median(peak)),
    "drush_peak_rss_kb_max": max(peak),
    "drush_cpu_seconds_median": round(statistics.median(cpu_run), 3),
    "drush_cpu_seconds_max": round(max(cpu_run), 3),
    "drush_wall_seconds_median": round(statistics.median(wall), 3),
    "container_pss_kb_max_sampled": max(tree),
    "container_processes_at_that_sample": peak_processes,
    "home_and_tmp_bytes": du(os.path.join(work, "home")),
    "spool_bytes": du(os.path.join(work, "spool")),
    "v1_check_two_drush_runs_cpu_seconds": round(sum(float(l[1]) + float(l[2]) for l in old), 3),
    "v1_check_peak_rss_kb": max(int(l[0]) for l in old),
    "v1_check_wall_seconds": round(sum(float(l[3]) for l in old), 3),
}
print(json.dumps(result, indent=2))
PY
