#!/usr/bin/env bash
# Pictures packaging/grafana/ulvs-dashboard.json over the lab's metrics, for
# docs/dashboard.png. Debian has no Grafana, so the panels' queries are
# evaluated by Debian's Prometheus, scraping the lab's two ulvsd directors,
# and drawn by Prometheus's own console library on a console page laid out
# as the dashboard (scripts/dashshot), photographed by Chromium headless. As root, under the netns lock; about 6 minutes:
#
#   flock /tmp/ulvs-netns.lock scripts/dashboard-shot.sh [OUT.png]
#
# The lab's story: DR, two directors, three real servers, requests all
# along; rs1's nginx stopped then healed; director1 killed then healed.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-docs/dashboard.png}
for tool in prometheus chromium; do
  command -v $tool >/dev/null || { echo "dashboard-shot: $tool is missing (apt-get install $tool)" >&2; exit 1; }
done
make build >/dev/null
work=$(mktemp -d)
lab=bin/ulvslab
prefix=ulvsshot-
export ULVSLAB_PREFIX=$prefix ULVSLAB_STATE_DIR=$work/state
cleanup() {
  [ -n "${load:-}" ] && kill "$load" 2>/dev/null || true
  [ -n "${prom:-}" ] && kill "$prom" 2>/dev/null || true
  $lab down >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

$lab down >/dev/null 2>&1 || true
$lab up --mode dr
client=${prefix}client
cat > "$work/prometheus.yml" <<CONF
global:
  scrape_interval: 2s
  evaluation_interval: 2s
rule_files:
  - $PWD/packaging/prometheus/ulvs-alerts.yml
scrape_configs:
  - job_name: ulvsd
    static_configs:
      - targets: ['198.18.0.2:9650']
        labels: {director: director1}
      - targets: ['198.18.0.3:9650']
        labels: {director: director2}
CONF
mkdir -p "$work/consoles"
ip netns exec "$client" prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
  --web.listen-address=127.0.0.1:9090 --web.console.templates="$work/consoles" >"$work/prometheus.log" 2>&1 &
prom=$!
(while :; do $lab curl 10 >/dev/null 2>&1 || true; sleep 1; done) &
load=$!
step() { echo "dashboard-shot: $(date -u +%T) $*"; }
step "requests through the VIP, 80 s"; sleep 80
step "fail rs1 (nginx stopped)"; $lab fail rs1 >/dev/null; sleep 70
step "heal"; $lab heal >/dev/null; sleep 40
step "fail director1 (killed, link down)"; $lab fail director1 >/dev/null; sleep 60
step "heal"; $lab heal >/dev/null; sleep 50
step "picture"
kill "$load"; load=
go build -o "$work/dashshot" ./scripts/dashshot
# Chromium runs in the client namespace, where Prometheus listens.
ip netns exec "$client" "$work/dashshot" -consoles "$work/consoles" -prom http://127.0.0.1:9090 -range 6m -out "$work/shot.png" \
  -note "ulvslab DR: two directors, three real servers, 10 requests/s; rs1's nginx stopped at about 1:20 and back at 2:30; director1 killed at 3:10 and back at 4:10 ($(date -u +%F), Prometheus $(prometheus --version 2>&1 | awk 'NR==1 {print $3}'))" >/dev/null
cp "$work/shot.png" "$out"
echo "$out"
