#!/usr/bin/env bash
# make demo: the main job a newcomer runs first.
#
# PREVIEW: the lab (DR/NAT/TUN in network namespaces, failover, packet traces)
# is not part of this build yet. Until it is, the demo shows what ulvsd reads
# from the user's own keepalived.conf files: each seed config is checked
# (`ulvsd -t`) and described (`ulvsd --describe`).
set -euo pipefail
cd "$(dirname "$0")/.."

shared=${SHARED:-../shared}
seeds="$shared/seed-configs"
if [ ! -d "$seeds" ]; then
  echo "demo: $seeds not found (../shared must sit beside the repository)" >&2
  exit 1
fi
bold=$(tput bold 2>/dev/null || true); normal=$(tput sgr0 2>/dev/null || true)

echo "${bold}ulvs demo (preview): reading the user's keepalived.conf files${normal}"
echo "The lab (VIP, real servers, failover, traces) comes in a later build; today ulvsd reads, checks"
echo "and explains configurations exactly as keepalived reads them."
echo
status=0
for f in "$seeds"/*.conf; do
  name=$(basename "$f")
  echo "${bold}== $name${normal}"
  if bin/ulvsd -t -f "$f" >/dev/null 2>/tmp/ulvs-demo.$$; then
    echo "   ulvsd -t: would run ($(grep -c warning /tmp/ulvs-demo.$$ || true) warnings)"
    bin/ulvsd --describe -f "$f" 2>/dev/null | sed 's/^/   /'
  else
    echo "   ulvsd -t: would NOT run:"
    sed 's/^/     /' /tmp/ulvs-demo.$$
    # The seed README says exactly this one must fail.
    [ "$name" = "001-nginx-dual-master-b-truncated.conf" ] || status=1
  fi
  echo
done
rm -f /tmp/ulvs-demo.$$
echo "Keyword coverage: $(bin/ulvsd --keywords | tail -1)"
exit $status
