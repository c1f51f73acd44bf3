#!/usr/bin/env bash
# Run the daily deliverability reports; called by cron or the systemd timer beside this file.
# Loads what arrived in data/raw first (a no-op for files already loaded), renders both
# notebooks into reports/<date>/, and exits non-zero when a report failed (cron mails the
# output, systemd marks the unit failed). Set WORKBENCH_ROOT to the project folder.
set -euo pipefail
cd "${WORKBENCH_ROOT:-$(dirname "$0")/..}"
WB=.venv/bin/workbench
status=0
if [ -d data/raw ]; then
  $WB load data/raw || [ $? -eq 2 ]        # 2: some input quarantined, the rest loaded
fi
$WB report run 01_deliverability_overview -p days 28 || status=1
$WB report run 02_reputation -p days 56 || status=1
# exit 3 when a critical reputation flag is active (complaints over 0.3 %): page someone
$WB reputation --fail-on critical > /dev/null || { rc=$?; [ $rc -eq 3 ] && echo "critical reputation flag active: see reports/index.html" >&2; status=$rc; }
exit $status
