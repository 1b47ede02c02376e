#!/usr/bin/env bash
# Performance proof for `secretgate check`: a generated environment of 500 secrets served by the
# fake Google server with 50 ms latency per answer, checked with 16 requests in flight.
#
# Prints the requests made against the minimum (one ListSecrets, then per secret one
# ListSecretVersions and one GetIamPolicy), the wall time against the lower bound that latency
# and concurrency allow (ceil(requests / concurrency) x latency), and a gcloud loop doing one
# `secrets versions describe` per secret on a sample, extrapolated to every secret.
#
# Targets: requests == minimum, wall time <= 1.5 x lower bound. Exits 1 when one is missed.
#
# The request count secretgate reports is cross-checked against the fake's own request log, and
# the gcloud calls are checked to have reached the fake.
#
# Usage: benches/check.sh
#        (SECRETS, SERVICES, LATENCY_MS, CONCURRENCY, SAMPLE, MAX_RPS override)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

SECRETS=${SECRETS:-500}
SERVICES=${SERVICES:-10}
LATENCY_MS=${LATENCY_MS:-50}
CONCURRENCY=${CONCURRENCY:-16}
SAMPLE=${SAMPLE:-20}
# High enough that the rate limiter never sets the pace: latency and concurrency do.
MAX_RPS=${MAX_RPS:-100000}
PROJECT=bench-proj
NUMBER=424242424242
ACCOUNT=runtime@${PROJECT}.iam.gserviceaccount.com

echo "--- building release binaries" >&2
cargo build --release -p fake-google --bin fake-google >&2
cargo build --release --bin secretgate >&2
bin_dir="${CARGO_TARGET_DIR:-target}/release"
fake_bin="$bin_dir/fake-google"
secretgate_bin="$bin_dir/secretgate"

work=$(mktemp -d)
fake_pid=""
cleanup() {
    if [[ -n "$fake_pid" ]]; then
        kill "$fake_pid" 2>/dev/null || true
        wait "$fake_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# The fake's request log: how many requests it received, optionally on one route only.
fake_count() {
    curl -sf "http://$host/_fake/requests" |
        ROUTE="${1:-}" python3 -c 'import json, os, sys
route = os.environ["ROUTE"]
print(sum(1 for r in json.load(sys.stdin) if not route or r["route"] == route))'
}

# --- the environment: SERVICES services sharing SECRETS secrets, every third one pinned --------
echo "--- generating $SECRETS secrets across $SERVICES services in $work" >&2
per_service=$(((SECRETS + SERVICES - 1) / SERVICES))
mkdir -p "$work/deploy"
{
    printf 'version: 1\nenvironments:\n  bench:\n'
    printf '    project: %s\n    region: us-central1\n' "$PROJECT"
    printf '    service_account: %s\n' "$ACCOUNT"
    printf 'services:\n'
    for ((s = 0; s < SERVICES; s++)); do
        printf '  svc-%d:\n    spec: deploy/svc-%d.yaml\n    secrets:\n' "$s" "$s"
        for ((k = 0; k < per_service; k++)); do
            i=$((s * per_service + k))
            ((i < SECRETS)) || break
            printf '      VAR_%d:\n        secret: secret-%d\n' "$i" "$i"
            if ((i % 3 == 0)); then
                printf '        version: %d\n' $((2 + i % 2))
            fi
        done
        cat >"$work/deploy/svc-$s.yaml" <<EOF
apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: svc-$s
spec:
  template:
    spec:
      serviceAccountName: $ACCOUNT
      containers:
      - image: us-central1-docker.pkg.dev/$PROJECT/apps/svc-$s:1.0.0
EOF
    done
} >"$work/secrets.yaml"

# --- the seed: 3 versions each (1 DISABLED, 2 and 3 ENABLED), a policy granting the account -----
{
    printf '{"snapshotVersion": 1, "capturedAt": "2026-01-01T00:00:00Z", '
    printf '"projects": {"%s": {"secrets": [\n' "$PROJECT"
    for ((i = 0; i < SECRETS; i++)); do
        name="projects/$NUMBER/secrets/secret-$i"
        ((i == 0)) || printf ',\n'
        printf '{"secret": {"name": "%s", "replication": {"automatic": {}}, ' "$name"
        printf '"createTime": "2026-01-01T00:00:00Z"},'
        printf ' "versions": ['
        for v in 3 2 1; do
            state=ENABLED
            ((v == 1)) && state=DISABLED
            ((v == 3)) || printf ', '
            printf '{"name": "%s/versions/%d", "state": "%s", ' "$name" "$v" "$state"
            printf '"createTime": "2026-0%d-01T00:00:00Z"}' "$v"
        done
        printf '], "iamPolicy": {"version": 1, "etag": "BwYAAAAAAAA=", "bindings": ['
        printf '{"role": "roles/secretmanager.secretAccessor", '
        printf '"members": ["serviceAccount:%s"]}]}}' "$ACCOUNT"
    done
    printf '\n]}}}\n'
} >"$work/seed.json"

# --- the fake ------------------------------------------------------------------------------------
"$fake_bin" --snapshot "$work/seed.json" --latency-ms "$LATENCY_MS" --print-port >"$work/port" &
fake_pid=$!
for _ in $(seq 100); do
    [[ -s "$work/port" ]] && break
    sleep 0.1
done
port=$(head -n1 "$work/port")
[[ "$port" =~ ^[0-9]+$ ]] || { echo "error: fake-google did not announce its port" >&2; exit 1; }
host="127.0.0.1:$port"
echo "--- fake-google on $host, ${LATENCY_MS} ms per answer" >&2

# --- secretgate ----------------------------------------------------------------------------------
minimum=$((1 + SECRETS + SECRETS))
# Generous enough that a larger SECRETS does not hit secretgate's default 60 s timeout.
timeout_s=$((60 + 10 * ((minimum + CONCURRENCY - 1) / CONCURRENCY * LATENCY_MS) / 1000))
echo "--- secretgate check" >&2
start=$(now_ms)
set +e
env -u GOOGLE_APPLICATION_CREDENTIALS -u RUN_EMULATOR_HOST SECRETMANAGER_EMULATOR_HOST="$host" \
    "$secretgate_bin" --manifest "$work/secrets.yaml" --quiet check --env bench --format json \
    --max-rps "$MAX_RPS" --concurrency "$CONCURRENCY" --timeout "$timeout_s" >"$work/check.json"
code=$?
set -e
wall_ms=$(($(now_ms) - start))
if ((code != 0)); then
    echo "error: secretgate check exited $code (expected 0 on a clean environment)" >&2
    cat "$work/check.json" >&2
    exit 1
fi
requests=$(sed -n 's/^  "requests": \([0-9]*\),\{0,1\}$/\1/p' "$work/check.json")
[[ -n "$requests" ]] || { echo "error: no \"requests\" in the JSON report" >&2; exit 1; }
served=$(fake_count)
if ((served != requests)); then
    echo "error: secretgate reports $requests requests, the fake received $served" >&2
    exit 1
fi
bound_ms=$(((requests + CONCURRENCY - 1) / CONCURRENCY * LATENCY_MS))

# --- gcloud: one `versions describe` per secret, on a sample -------------------------------------
gcloud_sample_ms=""
if command -v gcloud >/dev/null 2>&1; then
    echo "--- gcloud secrets versions describe, $SAMPLE secrets" >&2
    gcloud_home="$work/gcloud"
    mkdir -p "$gcloud_home"
    printf 'bench-token' >"$work/token"
    gcloud_env=(env -u GOOGLE_APPLICATION_CREDENTIALS
        CLOUDSDK_CONFIG="$gcloud_home"
        CLOUDSDK_CORE_DISABLE_PROMPTS=1
        CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK=1
        CLOUDSDK_CORE_DISABLE_USAGE_REPORTING=1
        CLOUDSDK_SURVEY_DISABLE_PROMPTS=1
        CLOUDSDK_CORE_CHECK_GCE_METADATA=false)
    "${gcloud_env[@]}" timeout 120 gcloud config set api_endpoint_overrides/secretmanager \
        "http://$host/" >/dev/null 2>"$work/gcloud.err" || {
        echo "error: gcloud config set failed:" >&2
        cat "$work/gcloud.err" >&2
        exit 1
    }
    gets_before=$(fake_count get-version)
    step=$((SECRETS / SAMPLE))
    ((step > 0)) || step=1
    start=$(now_ms)
    for ((n = 0; n < SAMPLE; n++)); do
        i=$((n * step))
        # The version the manifest declares: pinned for every third secret, else latest.
        version=latest
        ((i % 3 == 0)) && version=$((2 + i % 2))
        "${gcloud_env[@]}" timeout 120 gcloud secrets versions describe "$version" \
            --secret "secret-$i" --project "$PROJECT" --format 'value(name)' \
            --access-token-file "$work/token" >/dev/null 2>"$work/gcloud.err" || {
            echo "error: gcloud failed on secret-$i:" >&2
            cat "$work/gcloud.err" >&2
            exit 1
        }
    done
    gcloud_sample_ms=$(($(now_ms) - start))
    gets=$(($(fake_count get-version) - gets_before))
    if ((gets != SAMPLE)); then
        echo "error: $SAMPLE gcloud calls, but the fake received $gets version reads" >&2
        exit 1
    fi
else
    echo "--- gcloud not found: skipping the comparison" >&2
fi

# --- the table -----------------------------------------------------------------------------------
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
seconds() { awk -v ms="$1" 'BEGIN { printf "%.2f s", ms / 1000 }'; }

echo
printf 'secretgate check: %d secrets, %d services, %d ms latency, --concurrency %d\n\n' \
    "$SECRETS" "$SERVICES" "$LATENCY_MS" "$CONCURRENCY"
printf '%-34s %12s %18s %8s\n' "" "measured" "reference" "ratio"
printf '%-34s %12d %18s %8s\n' "requests" "$requests" "$minimum (minimum)" \
    "$(ratio "$requests" "$minimum")"
printf '%-34s %12s %18s %8s\n' "secretgate wall time" "$(seconds "$wall_ms")" \
    "$(seconds "$bound_ms") (bound)" "$(ratio "$wall_ms" "$bound_ms")"
if [[ -n "$gcloud_sample_ms" ]]; then
    extrapolated_ms=$((gcloud_sample_ms * SECRETS / SAMPLE))
    printf '%-34s %12s\n' "gcloud describe loop ($SAMPLE secrets)" "$(seconds "$gcloud_sample_ms")"
    printf '%-34s %12s\n' "gcloud per call" "$(seconds $((gcloud_sample_ms / SAMPLE)))"
    printf '%-34s %12s\n' "gcloud loop extrapolated ($SECRETS)" "$(seconds "$extrapolated_ms")"
    speed_up=$(awk -v a="$extrapolated_ms" -v b="$wall_ms" 'BEGIN { printf "%.0f", a / b }')
    printf '%-34s %11sx\n' "speed-up of secretgate" "$speed_up"
fi
echo

status=0
if ((requests == minimum)); then
    echo "target met: requests == minimum"
else
    echo "TARGET MISSED: $requests requests, minimum $minimum"
    status=1
fi
if ((wall_ms * 2 <= bound_ms * 3)); then
    echo "target met: wall time <= 1.5 x lower bound"
else
    echo "TARGET MISSED: wall time $(ratio "$wall_ms" "$bound_ms") x lower bound (limit 1.5)"
    status=1
fi
exit "$status"
