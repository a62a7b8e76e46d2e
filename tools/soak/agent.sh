#!/bin/sh
# The soak's stand-in agent: what it does follows the ticket id's prefix, so the soak knows
# each ticket's rightful outcome. Every start is journalled (outside robodev's state) so the
# soak can count how often each ticket's agent ran.
#   OK-n     works 0-1 s, succeeds with a harmless diff             -> Succeeded
#   SLOW-n   works 2-6 s (often cut off by a SIGKILLed robodev), then as OK
#   GATE-n   succeeds with a diff the review gate must refuse       -> Failed (review gate)
#   FAIL-n   reports failure                                        -> Failed (retried first)
#   CRASH-n  exits 3 without a result                               -> Failed (retried first)
set -eu
printf '{"ticket":"%s","pid":%s,"t":%s}\n' "$ROBODEV_TICKET_ID" "$$" "$(date +%s.%N)" >>"$SOAK_JOURNAL_DIR/agents.jsonl"
nap() { sleep "$(awk -v lo="$1" -v hi="$2" -v s="$$" 'BEGIN { srand(s); printf "%.2f", lo + rand() * (hi - lo) }')"; }
ok() {
  printf -- '--- a/src/lib.rs\n+++ b/src/lib.rs\n@@ -1,1 +1,1 @@\n-fn answer() -> u32 { 41 }\n+fn answer() -> u32 { 42 }\n' >"$ROBODEV_DIFF_FILE"
  printf '{"success": true, "branchName": "robodev/%s", "summary": "fixed %s", "exitCode": 0}\n' \
    "$ROBODEV_TICKET_ID" "$ROBODEV_TICKET_ID" >"$ROBODEV_RESULT_FILE"
}
case "$ROBODEV_TICKET_ID" in
OK-*) nap 0 1; ok ;;
SLOW-*) nap 2 6; ok ;;
GATE-*)
  nap 0 1
  printf -- '--- a/config/staging.toml\n+++ b/config/staging.toml\n@@ -0,0 +1,2 @@\n+[database]\n+password = "hunter2"\n' >"$ROBODEV_DIFF_FILE"
  printf '{"success": true, "branchName": "robodev/%s", "summary": "added settings", "exitCode": 0}\n' \
    "$ROBODEV_TICKET_ID" >"$ROBODEV_RESULT_FILE"
  ;;
FAIL-*)
  nap 0 1
  printf '{"success": false, "summary": "could not do %s", "exitCode": 1}\n' "$ROBODEV_TICKET_ID" >"$ROBODEV_RESULT_FILE"
  ;;
CRASH-*) nap 0 1; echo "agent: crashing on purpose" >&2; exit 3 ;;
*) echo "agent: unknown ticket $ROBODEV_TICKET_ID" >&2; exit 1 ;;
esac
