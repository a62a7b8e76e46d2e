#!/bin/sh
# A stand-in for a coding agent, for robodev's bundled example: instead of asking a model, it
# plays a fixed script per ticket, but it talks to robodev exactly as a real agent does. It
# runs in a fresh workspace with prompt.md and ticket.json, and writes its TaskResult (proto3
# JSON) to $ROBODEV_RESULT_FILE and the diff it made to $ROBODEV_DIFF_FILE.
set -eu
test -s "$ROBODEV_PROMPT_FILE"
echo "agent: working on $ROBODEV_TICKET_ID in $ROBODEV_WORKSPACE"
case "$ROBODEV_TICKET_ID" in
RD-1)
  cat >"$ROBODEV_DIFF_FILE" <<'DIFF'
--- a/src/pagination.rs
+++ b/src/pagination.rs
@@ -10,3 +10,3 @@ pub fn page(items: &[Item], n: usize, size: usize) -> &[Item] {
-    let end = (n + 1) * size + 1;
+    let end = ((n + 1) * size).min(items.len());
     &items[n * size..end]
 }
DIFF
  cat >"$ROBODEV_RESULT_FILE" <<'JSON'
{"success": true, "branchName": "robodev/RD-1", "summary": "Fixed the page end bound and clamped it to the item count",
 "tokenUsage": {"inputTokens": "5120", "outputTokens": "830"}, "costEstimateUsd": 0.04, "exitCode": 0}
JSON
  ;;
RD-2)
  # The review gate (a Wasm component) must stop this one: it hard-codes a credential.
  cat >"$ROBODEV_DIFF_FILE" <<'DIFF'
--- a/config/staging.toml
+++ b/config/staging.toml
@@ -0,0 +1,3 @@
+[database]
+host = "db.staging.internal"
+password = "hunter2"
DIFF
  cat >"$ROBODEV_RESULT_FILE" <<'JSON'
{"success": true, "branchName": "robodev/RD-2", "summary": "Added the staging database settings", "exitCode": 0}
JSON
  ;;
RD-4)
  echo "agent: cannot find the wiki page" >&2
  cat >"$ROBODEV_RESULT_FILE" <<'JSON'
{"success": false, "summary": "The wiki page with the release steps does not exist", "exitCode": 1}
JSON
  ;;
*)
  echo "agent: no script for $ROBODEV_TICKET_ID" >&2
  exit 1
  ;;
esac
