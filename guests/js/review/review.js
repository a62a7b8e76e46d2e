// `js-review`: a robodev review plugin written in JavaScript, built into a component with
// ComponentizeJS (StarlingMonkey) by scripts/build-foreign-guests.
//
// World `robodev:review/plugin@1.0.0` (exports `robodev:review/backend@1.0.0`).
//
// Behaviour:
// - `handshake` -> name "js-review", version "0.1.0".
// - `review-diff`: counts the added lines of the unified diff (lines starting with "+", not
//   "+++") that contain "TODO"; one info comment per such line (file and new-file line number
//   from the "+++ b/" and "@@" headers); score = max(0, 100 - 10 * todos), passed = score >= 70.
//   The review id is "js-<task-run-id>"; an empty task-run-id is `invalid-argument`.
//   Logged at info through `robodev:host/log`. Nothing is kept.
// - `get-gate-result` -> always `not-found` (this backend decides synchronously and keeps
//   nothing).
//
// Conventions of the JS bindings: records are objects with camelCase fields, enums are their
// WIT names as strings, variants are `{ tag, val }`, `option` is the value or `undefined`, and a
// `result` error is thrown.

import { log } from 'robodev:host/log@1.1.0';

const NAME = 'js-review';
const VERSION = '0.1.0';
const PASS_SCORE = 70;

/** The added lines containing "TODO", with their file and new-file line number. */
function findTodos(diff) {
  const found = [];
  let file = '';
  let line = 0;
  for (const text of diff.split('\n')) {
    if (text.startsWith('+++ ')) {
      const path = text.slice(4).trim();
      file = path.startsWith('b/') ? path.slice(2) : path;
      continue;
    }
    if (text.startsWith('--- ')) continue;
    const hunk = /^@@ -\d+(?:,\d+)? \+(\d+)(?:,\d+)? @@/.exec(text);
    if (hunk) {
      line = Number(hunk[1]);
      continue;
    }
    if (text.startsWith('+')) {
      if (text.includes('TODO')) found.push({ file, line });
      line += 1;
    } else if (text.startsWith(' ')) {
      line += 1;
    }
  }
  return found;
}

export const backend = {
  handshake() {
    return { name: NAME, version: VERSION };
  },

  reviewDiff(taskRunId, _ticket, diff, _branchName, _repoUrl, _result) {
    if (taskRunId === '') {
      throw { tag: 'invalid-argument', val: 'task-run-id is empty' };
    }
    const todos = findTodos(diff);
    const score = Math.max(0, 100 - 10 * todos.length);
    const passed = score >= PASS_SCORE;
    const comments = todos.map(({ file, line }) => ({
      filePath: file,
      line,
      severity: 'info',
      message: 'TODO left in added code',
      suggestion: '',
    }));
    const summary = `${todos.length} TODO(s) in added lines; score ${score}`;
    log('info', `review ${taskRunId}: ${summary}`);
    return {
      reviewId: `js-${taskRunId}`,
      gateResult: { passed, summary, comments, securityFindings: [], score },
    };
  },

  getGateResult(reviewId) {
    throw { tag: 'not-found', val: `review ${reviewId} is not kept by js-review` };
  },
};
