#!/usr/bin/env bash
# `make bench`: signed deliveries through ucpsim's engine vs unsigned POSTs by wrk, same sink, same connection count;
# per dialect, a fan-out to three subscriptions, the previous build's ucp case and a C sender as yardsticks.
set -euo pipefail
cd "$(dirname "$0")/../.."
COUNT="${BENCH_COUNT:-100000}"
CONNECTIONS="${BENCH_CONNECTIONS:-8}"
PORT="${BENCH_PORT:-18089}"
# The build the ucp case is compared with, in the same run: a git revision, or `none`. The default is the last
# commit before issue 12 (dialects, subscriptions).
BASELINE="${BENCH_BASELINE:-51ea253}"
ratio() { python3 -c "import sys; a,b=float(sys.argv[1]),float(sys.argv[2]); print(f'{a/b:.2f}' if b else 'n/a')" "$1" "$2"; }
result() { awk -F"$2=" '/^RESULT/{split($2,a," "); print a[1]}' "$1"; }

# The baseline's UCPSimBench, built before anything is measured: its sources (git archive, so no worktree is added
# to the repository) and its build products in .build-baseline/REV (git-ignored), kept for the next run.
baseline_bin=""
if [ "$BASELINE" != none ]; then
    rev=$(git rev-parse --verify --quiet "$BASELINE^{commit}") || {
        echo "bench: error: BENCH_BASELINE=$BASELINE is not a commit here (BENCH_BASELINE=none skips the comparison)" >&2
        exit 64
    }
    dir=".build-baseline/$rev"
    if [ ! -x "$dir/build/release/UCPSimBench" ]; then
        echo "== building the baseline $BASELINE ($rev) in $dir (several minutes on 2 cores; BENCH_BASELINE=none skips)"
        rm -rf "$dir/src"
        mkdir -p "$dir/src"
        git archive "$rev" | tar -x -C "$dir/src"
        [ -f Package.resolved ] && cp Package.resolved "$dir/src/"
        swift build -c release --product UCPSimBench --package-path "$dir/src" --scratch-path "$dir/build"
    fi
    baseline_bin="$dir/build/release/UCPSimBench"
fi

work=$(mktemp -d)
trap 'kill "$nginx_pid" 2>/dev/null || true; rm -rf "$work"' EXIT
sed -e "s#PREFIX#$work#g" -e "s#PORT#$PORT#g" Tests/bench/nginx.conf > "$work/nginx.conf"
nginx -c "$work/nginx.conf" -p "$work" &
nginx_pid=$!
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break; sleep 0.1; done
url="http://127.0.0.1:$PORT/webhooks/ucp/orders"

echo "== machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(uname -m); ucpsim release build; $(date -u '+%Y-%m-%d %H:%M UTC')"
# Other work on this guest (builds, tests) competes for the same cores: the load average says how much.
echo "load average:      $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min) before the run"
# CPU time the hypervisor gave to other guests during a run ("steal", from /proc/stat): on a shared VM a run with
# much steal measures the neighbours, not ucpsim.
cpu_times() { awk '/^cpu /{print $2+$3+$4+$5+$6+$7+$8+$9, $9}' /proc/stat; }
steal_since() {
    read -r total0 steal0 <<<"$1"
    read -r total1 steal1 <<<"$(cpu_times)"
    python3 -c "import sys; t,s=float(sys.argv[1]),float(sys.argv[2]); print(f'{100*s/t:.0f} %' if t else 'n/a')" \
        "$((total1 - total0))" "$((steal1 - steal0))"
}

# The previous build's ucp case right before this one's: same sink, count and connections (its command line is
# `URL COUNT CONCURRENCY`, which this build still takes).
if [ -n "$baseline_bin" ]; then
    echo "== baseline $BASELINE: $COUNT signed deliveries (ucp), $CONNECTIONS in flight"
    before=$(cpu_times)
    "$baseline_bin" "$url" "$COUNT" "$CONNECTIONS" | tee "$work/baseline.txt"
    echo "cpu steal:         $(steal_since "$before")"
fi
echo "== ucpsim: $COUNT signed deliveries (ucp), $CONNECTIONS in flight"
before=$(cpu_times)
.build/release/UCPSimBench "$url" "$COUNT" "$CONNECTIONS" | tee "$work/ucpsim.txt"
echo "cpu steal:         $(steal_since "$before") of the machine's CPU time went to other guests during the run"
signed=$(result "$work/ucpsim.txt" deliveries_per_second)
if [ -n "$baseline_bin" ]; then
    old=$(result "$work/baseline.txt" deliveries_per_second)
    echo "== ucp vs baseline: $signed deliveries/s now, $old with $BASELINE: $(ratio "$signed" "$old")× (noisy VM: compare in one run only)"
fi

# The physical-limit peer: the least a C sender does per signed ucp webhook with the same libraries (no engine, no
# outbox), same body, same sink and connections. CI and other machines keep it beside the repository.
limit_source="$(dirname "$PWD")/shared/bench/limit_sender.c"
.build/release/UCPSimBench --dump-body > "$work/body.json"
if [ -f "$limit_source" ]; then
    cc -O2 -o "$work/limit_sender" "$limit_source" -lcurl -lcrypto -lpthread
    echo "== C limit sender: $COUNT signed deliveries (ucp), $CONNECTIONS connections on $(nproc) threads"
    before=$(cpu_times)
    "$work/limit_sender" "$url" "$work/body.json" "$COUNT" "$CONNECTIONS" "$(nproc)" | tee "$work/limit.txt"
    echo "cpu steal:         $(steal_since "$before")"
    limit=$(result "$work/limit.txt" deliveries_per_second)
    echo "== ucpsim vs C: $signed vs $limit deliveries/s = $(ratio "$signed" "$limit")"
else
    echo "== C limit sender: skipped ($limit_source not found)"
fi

# The HMAC dialects: the same bodies as deliveries of one subscription each, signed with its generated secret.
for dialect in ucp-hmac standard-webhooks; do
    echo "== ucpsim: $COUNT $dialect deliveries, $CONNECTIONS in flight"
    before=$(cpu_times)
    .build/release/UCPSimBench --dialect "$dialect" "$url" "$COUNT" "$CONNECTIONS" | tee "$work/$dialect.txt"
    echo "cpu steal:         $(steal_since "$before")"
done
hmac=$(result "$work/ucp-hmac.txt" deliveries_per_second)
standard=$(result "$work/standard-webhooks.txt" deliveries_per_second)
echo "== per dialect (deliveries/s): ucp $signed, ucp-hmac $hmac ($(ratio "$hmac" "$signed")× ucp), standard-webhooks $standard ($(ratio "$standard" "$signed")× ucp); goal for the HMAC dialects: ≥ 2× ucp (reported, not enforced)"

# One order event to three subscriptions, one per dialect, through the shop's WebhookPublisher.
fanout_events=$(( (COUNT + 2) / 3 ))
echo "== ucpsim fan-out: $fanout_events order events × 3 subscriptions (one per dialect), $CONNECTIONS in flight"
before=$(cpu_times)
.build/release/UCPSimBench --fan-out "$url" "$fanout_events" "$CONNECTIONS" | tee "$work/fanout.txt"
echo "cpu steal:         $(steal_since "$before")"

# Completed checkouts per second: an in-process shop and a platform (its profile, a receiver that verifies every
# webhook), each checkout create → update → complete with signed requests, counted when its order.created webhook has
# arrived verified; with the p50/p99 of complete. Reported at the end beside the delivery figures.
checkouts="${BENCH_CHECKOUTS:-2000}"
echo "== ucpsim checkout: $checkouts checkouts, $CONNECTIONS in flight"
before=$(cpu_times)
checkout_status=0
.build/release/UCPSimBench --checkout "$checkouts" "$CONNECTIONS" | tee "$work/checkout.txt" || checkout_status=$?
echo "cpu steal:         $(steal_since "$before")"

# The deliveries API's memory: an in-process shop with two event-stream clients (one reads, one never does), its RSS
# and index size after 1,000 and then 10,000 more deliveries (bounded: pending + --keep-delivered final ones).
echo "== ucpsim inspector: 1,000 then 3 × 10,000 more deliveries, an event-stream client that reads and one that never does"
.build/release/UCPSimBench --inspector 1000 10000 3 || echo "== the inspector phase failed (exit $?): see above" >&2

# What a long `serve` keeps per call: the RSS of a real `ucpsim serve` (release build) after 10k, 50k and 100k
# control-API calls (it should stay flat). Bounded: it stops by itself when stuck or after BENCH_CONTROL_TIMEOUT s.
before=$(cpu_times)
started=$(date +%s)
control_status=0
.build/release/UCPSimBench --control-api "$url" "${BENCH_CONTROL_CALLS:-100000}" || control_status=$?
echo "cpu steal:         $(steal_since "$before") during the control-API phase ($(($(date +%s) - started)) s)"

echo "== wrk: unsigned POSTs of the same body, $CONNECTIONS connections, 10 s"
before=$(cpu_times)
BENCH_BODY="$work/body.json" wrk -t2 -c"$CONNECTIONS" -d10s -s Tests/bench/post.lua "$url" | tee "$work/wrk.txt"
echo "cpu steal:         $(steal_since "$before")"
ceiling=$(awk '/Requests\/sec/{print $2}' "$work/wrk.txt")
echo "== the parts alone, same machine, same sink"
.build/release/UCPSimBench --sign-only
BENCH_SIGNATURES=2000 .build/release/UCPSimBench --bodies
.build/release/UCPSimBench --raw-jobs "$url"
if command -v openssl >/dev/null; then
    openssl speed -seconds 3 ecdsap256 2>/dev/null | awk '/nistp256/{print "OpenSSL alone:     " $(NF-1) " ES256 signatures/s on one core (openssl speed ecdsap256)"}'
fi
python3 -c "import sys; s,c=float(sys.argv[1]),float(sys.argv[2]); print(f'== ratio: {s:.0f} signed (ucp)/s vs {c:.0f} unsigned/s = {100*s/c:.1f} % of the ceiling')" "$signed" "$ceiling"
fanout_rate=$(result "$work/fanout.txt" events_per_second)
if [ "$checkout_status" = 0 ]; then
    checkout_figure="$(result "$work/checkout.txt" checkouts_per_second) completed checkouts/s (complete p50 $(result "$work/checkout.txt" complete_p50_ms) ms, p99 $(result "$work/checkout.txt" complete_p99_ms) ms)"
else
    checkout_figure="no figure: $(grep -m1 'checkout bench stopped' "$work/checkout.txt" || echo "exit $checkout_status")"
fi
echo "== side by side:   $signed signed ucp deliveries/s | ${fanout_rate:-?} fan-out events/s (3 deliveries each) | $checkout_figure"
if [ "$checkout_status" != 0 ]; then echo "== the checkout phase failed (exit $checkout_status): see above" >&2; fi
if [ "$control_status" != 0 ]; then echo "== the control-API phase failed (exit $control_status): see above" >&2; exit 1; fi
if [ "$checkout_status" != 0 ]; then exit 1; fi
