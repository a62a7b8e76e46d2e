"""The soak's misbehaving go-plugin plugins (robodev's Python SDK): `ticketing` (the tracker the
soak's tickets live in) or `notifications` (a channel), chosen by the first argument.

Both keep a journal outside robodev's state (`SOAK_JOURNAL_DIR`, granted with `sandbox.write`):
one JSON line per call that took effect, written and flushed before the answer, so the soak can
compare what robodev told them with what robodev recorded. A journal line is what the tracker or
channel "saw"; a call that dies after its line was written is one robodev will see fail.

Misbehaviour, per call, with the probabilities in `SOAK_CHAOS` ("die=0.01,hang=0.005,..."):
- `die`: the process exits in the middle of the call (before or after its journal line);
- `hang`: the call sleeps for `SOAK_HANG_SECONDS` (longer than robodev's call timeout);
- `slow`: the call sleeps 0.1-1.5 s, then answers;
- `garbage`: an error status with a long junk message, or (polls) hostile tickets among the real
  ones: an empty id, a path-traversing id, a huge title, a NUL in the id.
At start, with probability `SOAK_BAD_START`, the process prints a garbage handshake line and
exits (a broken release).
"""

import json
import os
import random
import sys
import threading
import time

from robodev_plugin_sdk import InvalidArgument, NotificationChannel, TicketingBackend, Unavailable, serve
from robodev_plugin_sdk.proto import common_pb2, notifications_pb2, ticketing_pb2

JOURNAL_DIR = os.environ["SOAK_JOURNAL_DIR"]
HANG_SECONDS = float(os.environ.get("SOAK_HANG_SECONDS", "10"))
RNG = random.Random()
LOCK = threading.Lock()

# Tickets no honest tracker would return; robodev must neither crash on them nor write outside
# its state directory because of them.
HOSTILE_IDS = ["", "../../../../tmp/soak-escape", "HOSTILE-\u0000-NUL", "HOSTILE-" + "x" * 300, "/abs/path"]


def chaos():
    rates = {}
    for item in os.environ.get("SOAK_CHAOS", "").split(","):
        if "=" in item:
            key, value = item.split("=", 1)
            rates[key.strip()] = float(value)
    return rates


RATES = chaos()


def roll(what):
    return RNG.random() < RATES.get(what, 0.0)


def journal(name, record):
    record["t"] = time.time()
    record["pid"] = os.getpid()
    line = json.dumps(record, sort_keys=True) + "\n"
    with LOCK:
        with open(os.path.join(JOURNAL_DIR, name), "a", encoding="utf-8") as f:
            f.write(line)
            f.flush()
            os.fsync(f.fileno())


def misbehave(call):
    """Before a call's work: maybe die, hang, be slow or answer garbage."""
    if roll("die"):
        journal("chaos.jsonl", {"plugin": sys.argv[1], "call": call, "did": "die-before"})
        os._exit(17)
    if roll("hang"):
        journal("chaos.jsonl", {"plugin": sys.argv[1], "call": call, "did": "hang"})
        time.sleep(HANG_SECONDS)
    if roll("slow"):
        time.sleep(RNG.uniform(0.1, 1.5))
    if roll("garbage") and call != "PollReadyTickets":
        journal("chaos.jsonl", {"plugin": sys.argv[1], "call": call, "did": "garbage"})
        raise Unavailable("".join(chr(RNG.randrange(0x20, 0x2FFF)) for _ in range(20000)))


def maybe_die_after(call):
    """After a call's journal line: the host never hears that it took effect."""
    if roll("die"):
        journal("chaos.jsonl", {"plugin": sys.argv[1], "call": call, "did": "die-after"})
        os._exit(18)


class Tracker(TicketingBackend):
    name = "soak-tracker"
    version = "1.0.0"

    def __init__(self):
        self.mtime = None
        self._load()
        # A ticket leaves the ready list once marked in progress, complete or failed (as in a
        # tracker's workflow); the journal is the tracker's database.
        self.taken = set()
        path = os.path.join(JOURNAL_DIR, "tracker.jsonl")
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                for line in f:
                    if line.endswith("\n"):
                        self.taken.add(json.loads(line)["ticket"])

    def _load(self):
        """(Re)reads the tickets when the soak has written new ones."""
        path = os.path.join(JOURNAL_DIR, "tickets.json")
        mtime = os.stat(path).st_mtime_ns
        if mtime != self.mtime:
            with open(path, encoding="utf-8") as f:
                self.tickets = json.load(f)
            self.by_id = {t["id"]: t for t in self.tickets}
            self.mtime = mtime

    def _ticket(self, t):
        return common_pb2.Ticket(
            id=t["id"],
            title=t["title"],
            description=t["description"],
            ticket_type=t["type"],
            labels=["soak"],
            repo_url=t["repo"],
            external_url="https://tracker.soak.invalid/" + t["id"],
        )

    def PollReadyTickets(self, request, context):
        misbehave("PollReadyTickets")
        self._load()
        ready = [self._ticket(t) for t in self.tickets if t["id"] not in self.taken]
        if request.max_results > 0:
            ready = ready[: request.max_results]
        if roll("garbage"):
            journal("chaos.jsonl", {"plugin": "ticketing", "call": "PollReadyTickets", "did": "garbage"})
            for hostile in HOSTILE_IDS:
                ready.append(
                    common_pb2.Ticket(
                        id=hostile,
                        title="hostile " * RNG.randrange(1, 20000),
                        ticket_type="bug_fix",
                        labels=["soak"],
                        repo_url="https://git.soak.invalid/acme/app.git",
                    )
                )
        return ticketing_pb2.PollReadyTicketsResponse(tickets=ready)

    def _mark(self, call, ticket_id, **extra):
        misbehave(call)
        if ticket_id not in self.by_id:
            raise InvalidArgument("no ticket %r in the soak's tracker" % ticket_id[:80])
        with LOCK:
            self.taken.add(ticket_id)
        journal("tracker.jsonl", dict(op=call, ticket=ticket_id, **extra))
        maybe_die_after(call)

    def MarkInProgress(self, request, context):
        self._mark("MarkInProgress", request.ticket_id)
        return ticketing_pb2.MarkInProgressResponse()

    def MarkComplete(self, request, context):
        self._mark("MarkComplete", request.ticket_id, success=request.result.success)
        return ticketing_pb2.MarkCompleteResponse()

    def MarkFailed(self, request, context):
        self._mark("MarkFailed", request.ticket_id, reason=request.reason[:300])
        return ticketing_pb2.MarkFailedResponse()


class Pager(NotificationChannel):
    name = "soak-pager"
    version = "1.0.0"

    def _told(self, call, request, **extra):
        misbehave(call)
        journal(
            "pager.jsonl",
            dict(op=call, ticket=request.ticket.id, run=request.task_run_id, **extra),
        )
        maybe_die_after(call)

    def Notify(self, request, context):
        self._told("Notify", request, message=request.message[:200])
        return notifications_pb2.NotifyResponse()

    def NotifyStart(self, request, context):
        self._told("NotifyStart", request)
        return notifications_pb2.NotifyStartResponse()

    def NotifyComplete(self, request, context):
        self._told("NotifyComplete", request, success=request.result.success, summary=request.result.summary[:300])
        return notifications_pb2.NotifyCompleteResponse()


def main():
    kind = sys.argv[1] if len(sys.argv) > 1 else ""
    if RNG.random() < float(os.environ.get("SOAK_BAD_START", "0")):
        journal("chaos.jsonl", {"plugin": kind, "call": "start", "did": "bad-handshake"})
        print("1|1|tcp|not a handshake at all|grpc|", flush=True)
        os._exit(19)
    if kind == "ticketing":
        serve(Tracker(), interface="ticketing")
    elif kind == "notifications":
        serve(Pager(), interface="notifications")
    else:
        sys.exit("usage: chaos_plugin.py ticketing|notifications")


if __name__ == "__main__":
    main()
