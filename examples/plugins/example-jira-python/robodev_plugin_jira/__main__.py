"""A Jira ticketing plugin: issues of one project that carry robodev's labels and are in the
"To Do" status are the ready tickets; robodev's lifecycle moves them through Jira's workflow
and comments on them. Jira's REST API v2 (Jira Cloud and Data Center), over urllib.

Configuration, from the plugin's environment (robodev-config.yaml's `env:`):

    JIRA_URL                     https://acme.atlassian.net (required)
    JIRA_PROJECT                 project key, e.g. PROJ (required)
    JIRA_TOKEN                   API token (Cloud, with JIRA_EMAIL) or personal access token
                                 (Data Center, sent as a bearer token) (required)
    JIRA_EMAIL                   the token's account (Cloud: basic auth email:token)
    JIRA_READY_STATUS            the status of ready issues (default "To Do")
    JIRA_IN_PROGRESS_TRANSITION  the transition MarkInProgress takes (default "In Progress")
    JIRA_DONE_TRANSITION         the transition MarkComplete takes (default "Done")
    JIRA_REPO_FIELD              a field holding the repository URL (e.g. customfield_10042)
    JIRA_DEFAULT_REPO            the repository URL of issues without one
    JIRA_TIMEOUT_SECONDS         per request (default 20)
"""

import base64
import json
import os
import urllib.error
import urllib.parse
import urllib.request

from google.protobuf import struct_pb2

from robodev_plugin_sdk import (
    InvalidArgument,
    NotFound,
    PermissionDenied,
    TicketingBackend,
    Unavailable,
    log,
    serve,
)
from robodev_plugin_sdk.proto import common_pb2, ticketing_pb2

# Jira issue types -> robodev task types (the guard rails' allowed_task_types).
TICKET_TYPES = {"bug": "bug_fix", "story": "feature", "task": "task", "improvement": "improvement"}


class Config:
    def __init__(self, env):
        missing = [k for k in ("JIRA_URL", "JIRA_PROJECT", "JIRA_TOKEN") if not env.get(k)]
        if missing:
            raise SystemExit("robodev-plugin-jira: set %s in the plugin's env" % ", ".join(missing))
        self.url = env["JIRA_URL"].rstrip("/")
        self.project = env["JIRA_PROJECT"]
        email = env.get("JIRA_EMAIL")
        token = env["JIRA_TOKEN"]
        if email:
            self.auth = "Basic " + base64.b64encode(("%s:%s" % (email, token)).encode()).decode()
        else:
            self.auth = "Bearer " + token
        self.ready_status = env.get("JIRA_READY_STATUS", "To Do")
        self.in_progress = env.get("JIRA_IN_PROGRESS_TRANSITION", "In Progress")
        self.done = env.get("JIRA_DONE_TRANSITION", "Done")
        self.repo_field = env.get("JIRA_REPO_FIELD", "")
        self.default_repo = env.get("JIRA_DEFAULT_REPO", "")
        self.timeout = float(env.get("JIRA_TIMEOUT_SECONDS", "20"))


def jql_string(value):
    return '"%s"' % value.replace("\\", "\\\\").replace('"', '\\"')


class JiraTicketingBackend(TicketingBackend):
    name = "jira"
    version = "1.0.0"

    def __init__(self, config):
        self.config = config

    # ---- Jira's REST API ----

    def _request(self, method, path, body=None, what=""):
        url = self.config.url + path
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Authorization", self.config.auth)
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=self.config.timeout) as response:
                text = response.read()
                return json.loads(text) if text else None
        except urllib.error.HTTPError as err:
            detail = err.read()[:500].decode(errors="replace")
            message = "Jira answered %s to %s %s: %s" % (err.code, method, path, detail)
            if err.code == 404:
                raise NotFound(what or message)
            if err.code in (401, 403):
                raise PermissionDenied(message)
            if err.code == 400:
                raise InvalidArgument(message)
            raise Unavailable(message)
        except (urllib.error.URLError, OSError) as err:
            raise Unavailable("cannot reach Jira at %s: %s" % (self.config.url, err))

    def _issue_path(self, ticket_id):
        if not ticket_id:
            raise InvalidArgument("ticket_id is empty")
        return "/rest/api/2/issue/" + urllib.parse.quote(ticket_id, safe="")

    def _transition(self, ticket_id, name):
        path = self._issue_path(ticket_id) + "/transitions"
        found = self._request("GET", path, what="no Jira issue %s" % ticket_id) or {}
        for transition in found.get("transitions", []):
            if transition.get("name", "").lower() == name.lower():
                self._request("POST", path, {"transition": {"id": transition["id"]}}, what="no Jira issue %s" % ticket_id)
                log.info("transitioned", issue=ticket_id, transition=name)
                return
        names = [t.get("name") for t in found.get("transitions", [])]
        log.warn("no such transition from the issue's status", issue=ticket_id, wanted=name, available=names)

    def _comment(self, ticket_id, text):
        self._request("POST", self._issue_path(ticket_id) + "/comment", {"body": text}, what="no Jira issue %s" % ticket_id)

    # ---- the ticketing interface ----

    def PollReadyTickets(self, request, context):
        labels = list(request.labels) or ["robodev"]
        jql = "project = %s AND status = %s" % (jql_string(self.config.project), jql_string(self.config.ready_status))
        for label in labels:
            jql += " AND labels = %s" % jql_string(label)
        jql += " ORDER BY priority DESC, created ASC"
        fields = ["summary", "description", "labels", "issuetype", "priority", "status"]
        if self.config.repo_field:
            fields.append(self.config.repo_field)
        query = urllib.parse.urlencode(
            {"jql": jql, "maxResults": request.max_results or 50, "fields": ",".join(fields)}
        )
        found = self._request("GET", "/rest/api/2/search?" + query) or {}
        tickets = []
        for issue in found.get("issues", []):
            f = issue.get("fields") or {}
            issue_type = ((f.get("issuetype") or {}).get("name") or "").lower()
            raw = struct_pb2.Struct()
            raw.update(
                {
                    "issuetype": (f.get("issuetype") or {}).get("name"),
                    "priority": (f.get("priority") or {}).get("name"),
                    "status": (f.get("status") or {}).get("name"),
                }
            )
            tickets.append(
                common_pb2.Ticket(
                    id=issue["key"],
                    title=f.get("summary") or "",
                    description=f.get("description") or "",
                    ticket_type=TICKET_TYPES.get(issue_type, issue_type.replace(" ", "_")),
                    labels=f.get("labels") or [],
                    repo_url=(f.get(self.config.repo_field) if self.config.repo_field else None)
                    or self.config.default_repo,
                    external_url="%s/browse/%s" % (self.config.url, issue["key"]),
                    raw=raw,
                )
            )
        log.info("polled Jira", project=self.config.project, count=len(tickets))
        return ticketing_pb2.PollReadyTicketsResponse(tickets=tickets)

    def MarkInProgress(self, request, context):
        self._transition(request.ticket_id, self.config.in_progress)
        return ticketing_pb2.MarkInProgressResponse()

    def MarkComplete(self, request, context):
        result = request.result
        lines = ["robodev finished this issue: %s" % (result.summary or "done")]
        if result.merge_request_url:
            lines.append("Pull request: %s" % result.merge_request_url)
        if result.branch_name:
            lines.append("Branch: %s" % result.branch_name)
        self._comment(request.ticket_id, "\n".join(lines))
        self._transition(request.ticket_id, self.config.done)
        return ticketing_pb2.MarkCompleteResponse()

    def MarkFailed(self, request, context):
        self._comment(request.ticket_id, "robodev could not finish this issue: %s" % request.reason)
        return ticketing_pb2.MarkFailedResponse()

    def AddComment(self, request, context):
        self._comment(request.ticket_id, request.comment)
        return ticketing_pb2.AddCommentResponse()


def main():
    serve(JiraTicketingBackend(Config(os.environ)), interface="ticketing")


if __name__ == "__main__":
    main()
