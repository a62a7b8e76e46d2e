"""robodev's soak under faults (run by `scripts/soak`, which builds what it needs first).

Two phases against one state directory on a small tmpfs:

1. faults: `robodev run` drives TICKETS tickets from a misbehaving tracker (a go-plugin
   subprocess) through the local engine, the review gate (a Wasm component pulled from a real
   OCI registry), a misbehaving pager (a go-plugin subprocess), a webhook channel (a Wasm
   component POSTing to a misbehaving HTTP server) and the built-in log channel (to a file),
   while robodev is SIGKILLed (sometimes SIGTERMed) and restarted at random moments, plugin
   processes are SIGKILLed and SIGSTOPped, the registry goes away and comes back, and the state
   directory fills up. It ends when every ticket's run is settled, reported and told, or at the
   phase's deadline. Then one last robodev, without faults, finishes what is left.
2. memory: one robodev, never killed, polls fast under light plugin chaos while new tickets keep
   arriving, until it has made CALLS plugin calls (robodev_plugin_calls_total); its RSS is
   sampled throughout.

Then the checks: no ticket lost, none ran twice, every notification matches its run's outcome,
no plugin process or socket directory left, no file written outside the state directory, RSS
flat. The figures go to RESULT (JSON) and a summary to stdout; the exit status is 1 when a check
failed.
"""

import argparse
import collections
import glob
import http.server
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
KINDS = ["OK", "OK", "OK", "SLOW", "GATE", "FAIL", "CRASH", "REFUSE"]
TOKEN = "soak-admin-token"


def log(msg):
    print("soak: %s %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_jsonl(path):
    out = []
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.endswith("\n"):
                    out.append(json.loads(line))
    return out


class Webhook(http.server.ThreadingHTTPServer):
    """The webhook channel's far end: journals each POST; answers 500, slowly, or not at all
    now and then."""

    daemon_threads = True

    def __init__(self, journal, chaos):
        self.journal = journal
        self.chaos = chaos
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), WebhookHandler)


class WebhookHandler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        server = self.server
        r = random.random()
        if server.chaos and r < 0.03:
            self.send_response(500)
            self.end_headers()
            return
        if server.chaos and r < 0.05:
            time.sleep(random.uniform(0.5, 4))
        with server.lock, open(server.journal, "a", encoding="utf-8") as f:
            f.write(json.dumps(json.loads(body), sort_keys=True) + "\n")
        self.send_response(204)
        self.end_headers()


class Registry:
    """Debian's docker-registry on loopback; stop() and start() keep its storage."""

    def __init__(self, work):
        self.dir = os.path.join(work, "registry")
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        self.config = os.path.join(self.dir, "config.yml")
        with open(self.config, "w") as f:
            f.write(
                "version: 0.1\nlog:\n  level: warn\n  accesslog:\n    disabled: true\n"
                "storage:\n  filesystem:\n    rootdirectory: %s\n"
                "http:\n  addr: 127.0.0.1:%d\n" % (os.path.join(self.dir, "data"), self.port)
            )
        self.proc = None

    def start(self):
        logf = open(os.path.join(self.dir, "registry.log"), "a")
        self.proc = subprocess.Popen(
            ["/usr/bin/setpriv", "--pdeathsig", "KILL", "/usr/bin/docker-registry", "serve", self.config],
            stdout=logf,
            stderr=logf,
            stdin=subprocess.DEVNULL,
        )
        for _ in range(100):
            try:
                urllib.request.urlopen("http://127.0.0.1:%d/v2/" % self.port, timeout=1)
                return
            except Exception:
                time.sleep(0.1)
        raise SystemExit("soak: docker-registry did not start (see %s/registry.log)" % self.dir)

    def stop(self):
        if self.proc:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


class StateDir:
    """The state directory: a tmpfs of `mb` MiB. Mounted directly when robodev's user may mount
    (root); otherwise inside a user+mount namespace kept by a holder process, which robodev is
    started in with nsenter."""

    def __init__(self, path, mb):
        self.path = path
        self.holder = None
        os.makedirs(path, exist_ok=True)
        opts = "size=%dm,mode=0700" % mb
        if subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", path], capture_output=True).returncode == 0:
            self.mounted = True
            return
        self.mounted = False
        self.holder = subprocess.Popen(
            ["unshare", "--user", "--map-current-user", "--mount", "sh", "-c",
             'mount -t tmpfs -o "$1" tmpfs "$2" && echo ready && exec sleep infinity', "sh", opts, path],
            stdout=subprocess.PIPE,
        )
        if self.holder.stdout.readline().strip() != b"ready":
            raise SystemExit("soak: cannot mount a tmpfs for the state directory (neither as root nor in a user namespace)")

    def prefix(self):
        """The command prefix that runs a program where the tmpfs is visible."""
        if self.holder is None:
            return []
        return ["nsenter", "--target", str(self.holder.pid), "--user", "--mount", "--preserve-credentials"]

    def run(self, argv):
        return subprocess.run(self.prefix() + argv, capture_output=True, text=True)

    def usage(self):
        out = self.run(["df", "-k", "--output=used,size", self.path]).stdout.split()
        return int(out[-2]), int(out[-1])

    def fill(self):
        """Fills the tmpfs to the last byte (a filler file); returns its path."""
        filler = os.path.join(self.path, "soak-filler")
        self.run(["sh", "-c", 'dd if=/dev/zero of="$1" bs=64k 2>/dev/null; true', "sh", filler])
        return filler

    def unfill(self, filler):
        self.run(["rm", "-f", filler])

    def close(self):
        if self.mounted:
            subprocess.run(["umount", "-l", self.path])
        if self.holder:
            self.holder.kill()
            self.holder.wait()


class Soak:
    def __init__(self, args):
        self.args = args
        self.work = os.path.abspath(args.work)
        if os.path.exists(self.work):
            shutil.rmtree(self.work)
        self.journal = os.path.join(self.work, "journal")
        self.plugins = os.path.join(self.work, "plugins")
        self.logs = os.path.join(self.work, "logs")
        for d in (self.journal, self.plugins, self.logs):
            os.makedirs(d)
        self.robodev = os.path.abspath(args.robodev)
        self.state = StateDir(os.path.join(self.work, "state"), args.state_mb)
        self.rng = random.Random(args.seed)
        self.events = collections.Counter()
        self.starts = 0
        self.proc = None
        self.admin_port = free_port()
        self.stop_chaos = threading.Event()
        self.figures = {}

    # ---- set-up ------------------------------------------------------------------------------

    def tickets(self, first, count, kinds):
        out = []
        for i in range(first, first + count):
            kind = kinds[i % len(kinds)]
            out.append(
                {
                    "id": "%s-%d" % (kind, i),
                    "title": "soak ticket %d" % i,
                    "description": "a %s ticket" % kind,
                    "type": "rewrite" if kind == "REFUSE" else "bug_fix",
                    "repo": "https://git.soak.invalid/acme/app.git",
                }
            )
        return out

    def write_tickets(self, tickets):
        tmp = os.path.join(self.journal, "tickets.json.tmp")
        with open(tmp, "w") as f:
            json.dump(tickets, f)
        os.replace(tmp, os.path.join(self.journal, "tickets.json"))

    def set_up(self):
        a = self.args
        self.all_tickets = self.tickets(0, a.tickets, KINDS)
        # Tickets arrive over phase 1 in ten batches (the first at once).
        self.released = max(1, a.tickets // 10)
        self.write_tickets(self.all_tickets[: self.released])
        # The chaos plugin: a launcher whose #! is the SDK venv's python (so the sandbox grants
        # that interpreter) beside a copy of the plugin (a confined plugin reads its own dir).
        shutil.copy(os.path.join(HERE, "chaos_plugin.py"), self.plugins)
        launcher = os.path.join(self.plugins, "soak-chaos")
        with open(launcher, "w") as f:
            f.write(
                "#!%s\nimport os, runpy, sys\nsys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))\n"
                "runpy.run_path(os.path.join(sys.path[0], 'chaos_plugin.py'), run_name='__main__')\n" % a.python
            )
        os.chmod(launcher, 0o755)
        self.registry = Registry(self.work)
        self.registry.start()
        for name, wasm in (("review-rules", a.review_wasm), ("notify-webhook", a.webhook_wasm)):
            ref = "oci://127.0.0.1:%d/soak/%s:1" % (self.registry.port, name)
            out = subprocess.run([self.robodev, "plugin", "push", wasm, ref], capture_output=True, text=True)
            if out.returncode != 0:
                raise SystemExit("soak: cannot push %s: %s" % (wasm, out.stderr))
        self.webhook = Webhook(os.path.join(self.journal, "webhook.jsonl"), chaos=True)
        threading.Thread(target=self.webhook.serve_forever, daemon=True).start()
        self.config = os.path.join(self.work, "robodev-config.yaml")
        self.write_config(a.poll_interval, a.chaos)
        check = subprocess.run([self.robodev, "config", "check", "--config", self.config], capture_output=True, text=True)
        if check.returncode != 0:
            raise SystemExit("soak: robodev refuses the soak's config:\n" + check.stderr)

    def write_config(self, poll_interval, chaos, bad_start=0.05):
        a = self.args
        plugin_env = {
            "SOAK_JOURNAL_DIR": self.journal,
            "SOAK_CHAOS": chaos,
            "SOAK_HANG_SECONDS": "6",
            "SOAK_BAD_START": str(bad_start if chaos else 0),
        }
        subprocess_plugin = lambda name, kind: {
            "name": name,
            "type": kind,
            "interface_version": 1,
            "command": os.path.join(self.plugins, "soak-chaos"),
            "args": [kind],
            "env": plugin_env,
            "call_timeout": "2s",
            "start_timeout": "10s",
            "sandbox": {"write": [self.journal]},
        }
        component = lambda name, kind, ref, **extra: dict(
            name=name,
            type=kind,
            interface_version=1,
            component="oci://127.0.0.1:%d/soak/%s:1" % (self.registry.port, ref),
            limits={"fuel": 50000000, "timeout_ms": 3000, "memory_mb": 64},
            **extra,
        )
        config = {
            "poll_interval": poll_interval,
            "state_dir": self.state.path,
            "plugins": [
                subprocess_plugin("tracker", "ticketing"),
                subprocess_plugin("pager", "notifications"),
                component("gate", "review", "review-rules", config={"threshold": 70}),
                component(
                    "hook",
                    "notifications",
                    "notify-webhook",
                    config={"webhook_url": "http://127.0.0.1:%d/hook" % self.webhook.server_address[1]},
                    allowed_hosts=["127.0.0.1:%d" % self.webhook.server_address[1]],
                ),
            ],
            # Plugins are restarted for the whole soak (RoboDev's default gives up after 3).
            "plugin_health": {"max_plugin_restarts": 1000000, "restart_backoff": [1]},
            "ticketing": {"backend": "tracker", "labels": ["soak"], "max_results": 50},
            "notifications": {
                "channels": [
                    {"backend": "log", "config": {"file": os.path.join(self.journal, "log-channel.jsonl")}},
                    {"backend": "pager"},
                    {"backend": "hook"},
                ]
            },
            "secrets": {"backend": "env"},
            "review": {"backend": "gate"},
            "engines": {
                "default": "local",
                "local": {
                    "command": [os.path.join(HERE, "agent.sh")],
                    "timeout_seconds": 30,
                    "env": {"SOAK_JOURNAL_DIR": self.journal},
                },
            },
            "guardrails": {
                "allowed_repos": ["git.soak.invalid/acme/*"],
                "allowed_task_types": ["bug_fix"],
                "max_concurrent_jobs": a.jobs,
                "max_job_duration_minutes": 1,
                "max_retries": 1,
            },
            "admin": {"listen": "127.0.0.1:%d" % self.admin_port, "token_secret": "SOAK_ADMIN_TOKEN"},
        }
        # JSON is YAML.
        with open(self.config, "w") as f:
            json.dump(config, f, indent=2)

    # ---- robodev -------------------------------------------------------------------------------

    def start_robodev(self):
        self.starts += 1
        logf = open(os.path.join(self.logs, "robodev-%03d.log" % self.starts), "w")
        env = dict(os.environ)
        env.update(
            {
                "SOAK_ADMIN_TOKEN": TOKEN,
                "XDG_CACHE_HOME": os.path.join(self.work, "cache"),
                "TMPDIR": os.path.join(self.work, "tmp"),
                "RUST_LOG": "info",
                "NO_COLOR": "1",
            }
        )
        env.pop("RUST_BACKTRACE", None)
        os.makedirs(env["TMPDIR"], exist_ok=True)
        self.proc = subprocess.Popen(
            self.state.prefix() + [self.robodev, "run", "--config", self.config],
            stdout=logf,
            stderr=logf,
            stdin=subprocess.DEVNULL,
            env=env,
        )
        self.proc_log = logf.name

    def robodev_pid(self):
        """robodev's own pid (the Popen is nsenter's when the tmpfs needs a namespace: nsenter
        execs robodev, so it is the same process)."""
        return self.proc.pid

    def stop_robodev(self, sig):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=60 if sig == signal.SIGTERM else 10)
            except subprocess.TimeoutExpired:
                self.events["robodev-term-timeout"] += 1
                self.proc.kill()
                self.proc.wait()
        code = self.proc.returncode
        self.proc = None
        return code

    def metrics(self):
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.admin_port, timeout=2) as r:
                text = r.read().decode()
        except Exception:
            return None
        calls = 0
        outcomes = collections.Counter()
        for line in text.splitlines():
            if line.startswith("robodev_plugin_calls_total{"):
                n = int(float(line.rsplit(" ", 1)[1]))
                calls += n
                m = re.search(r'outcome="([^"]*)"', line)
                outcomes[m.group(1) if m else "?"] += n
        return calls, outcomes

    # ---- the runs ------------------------------------------------------------------------------

    def runs(self):
        out = {}
        for path in glob.glob(os.path.join(self.state.path, "runs", "*.json")):
            try:
                with open(path, encoding="utf-8") as f:
                    run = json.load(f)
            except (OSError, ValueError):
                continue
            out[run["ticket"]["id"]] = run
        return out

    def settled(self, run):
        s = run["steps"]
        if run["state"] not in ("Succeeded", "Failed", "TimedOut"):
            return False
        # A refused ticket's run never started: nothing to announce.
        return s["reported"] and s["complete_notified"]

    def outstanding(self, tickets):
        runs = self.runs()
        return [t["id"] for t in tickets if t["id"] not in runs or not self.settled(runs[t["id"]])]

    # ---- chaos ---------------------------------------------------------------------------------

    def plugin_pids(self):
        pids = []
        for status in glob.glob("/proc/[0-9]*/cmdline"):
            try:
                with open(status, "rb") as f:
                    cmd = f.read().split(b"\0")
            except OSError:
                continue
            if len(cmd) >= 2 and cmd[1].decode(errors="replace").endswith("/plugins/soak-chaos") and self.work.encode() in cmd[1]:
                pids.append(int(status.split("/")[2]))
        return pids

    def leftover_processes(self):
        """Every process but the registry's and the tmpfs holder's that names the soak's work
        directory or agent: a plugin, a plugin's keeper or init, an agent, a robodev."""
        keep = {os.getpid()}
        for p in (self.registry.proc, self.state.holder):
            if p is not None:
                keep.add(p.pid)
        agent = os.path.join(HERE, "agent.sh").encode()
        out = []
        for path in glob.glob("/proc/[0-9]*/cmdline"):
            pid = int(path.split("/")[2])
            try:
                with open(path, "rb") as f:
                    cmd = f.read()
            except OSError:
                continue
            if pid not in keep and (self.work.encode() in cmd or agent in cmd):
                out.append("%d %s" % (pid, cmd.replace(b"\0", b" ").decode(errors="replace")[:120]))
        return out

    def chaos_loop(self):
        """Plugin processes killed and frozen, the registry away, the state directory full."""
        rng = random.Random(self.args.seed + 1)
        registry_back = None
        filler = None
        while not self.stop_chaos.wait(rng.uniform(1, 4)):
            r = rng.random()
            pids = self.plugin_pids()
            if r < 0.3 and pids:
                os.kill(rng.choice(pids), signal.SIGKILL)
                self.events["plugin-sigkill"] += 1
            elif r < 0.45 and pids:
                pid = rng.choice(pids)
                try:
                    os.kill(pid, signal.SIGSTOP)
                    time.sleep(rng.uniform(1, 5))
                    os.kill(pid, signal.SIGCONT)
                    self.events["plugin-sigstop"] += 1
                except ProcessLookupError:
                    pass
            elif r < 0.55 and registry_back is None:
                self.registry.stop()
                registry_back = time.time() + rng.uniform(10, 60)
                self.events["registry-down"] += 1
            elif r < 0.62 and filler is None:
                filler = self.state.fill()
                filled_until = time.time() + rng.uniform(3, 15)
                self.events["state-dir-full"] += 1
            if registry_back is not None and time.time() > registry_back:
                self.registry.start()
                registry_back = None
            if filler is not None and time.time() > filled_until:
                self.state.unfill(filler)
                filler = None
        if registry_back is not None:
            self.registry.start()
        if filler is not None:
            self.state.unfill(filler)

    # ---- phases --------------------------------------------------------------------------------

    def phase_faults(self):
        a = self.args
        log("phase 1: %d tickets under faults, robodev killed every %s s on average" % (a.tickets, a.kill_every))
        chaos = threading.Thread(target=self.chaos_loop)
        chaos.start()
        began = time.time()
        deadline = began + a.minutes * 60
        exits = collections.Counter()
        last_report = 0
        while time.time() < deadline:
            # The next batch of tickets, a tenth of the phase after the last.
            due = min(a.tickets, a.tickets * (1 + int((time.time() - began) / (a.minutes * 6))) // 10)
            if due > self.released:
                self.released = due
                self.write_tickets(self.all_tickets[: self.released])
            self.start_robodev()
            life = self.rng.expovariate(1 / a.kill_every)
            until = time.time() + life
            while time.time() < until and self.proc.poll() is None:
                time.sleep(0.2)
            if self.proc.poll() is not None:
                exits["exited-%s" % self.proc.returncode] += 1
                self.events["robodev-exited-by-itself"] += 1
                self.keep_log("exited by itself")
                self.proc = None
                time.sleep(1)
            elif self.rng.random() < 0.8:
                exits["sigkill"] += 1
                self.stop_robodev(signal.SIGKILL)
            else:
                code = self.stop_robodev(signal.SIGTERM)
                exits["sigterm-exit-%s" % code] += 1
            left = self.outstanding(self.all_tickets[: self.released])
            if time.time() - last_report > 60:
                log("%d robodev starts, %d of %d ticket(s) released, %d not settled yet" % (self.starts, self.released, a.tickets, len(left)))
                last_report = time.time()
            if not left and self.released == a.tickets:
                break
        self.stop_chaos.set()
        chaos.join()
        self.figures["faults"] = {
            "robodev_starts": self.starts,
            "robodev_ends": dict(exits),
            "unsettled_at_deadline": len(self.outstanding(self.all_tickets)),
            "seconds": round(a.minutes * 60 - max(0, deadline - time.time())),
        }
        log("phase 1 over: %d robodev starts; finishing what is left without faults" % self.starts)
        self.released = a.tickets
        self.write_tickets(self.all_tickets)
        self.write_config(a.poll_interval, "")
        self.start_robodev()
        finish_by = time.time() + 300
        while self.outstanding(self.all_tickets) and time.time() < finish_by:
            time.sleep(1)
        self.stop_robodev(signal.SIGTERM)

    def phase_memory(self):
        a = self.args
        log("phase 2: one robodev, %d plugin calls, RSS sampled" % a.calls)
        # No broken plugin starts here: a plugin refused on restart stays down for the rest of
        # the process (by design), and this phase is about one robodev's memory.
        self.write_config(a.fast_poll, a.light_chaos, bad_start=0)
        first = len(self.all_tickets)
        self.start_robodev()
        samples = []
        started = time.time()
        chaos_rng = random.Random(a.seed + 2)
        next_batch = 0
        while True:
            time.sleep(5)
            if self.proc.poll() is not None:
                self.keep_log("exited during the memory phase")
                raise SystemExit("soak: robodev exited during the memory phase (log: %s)" % self.proc_log)
            m = self.metrics()
            rss = self.rss(self.robodev_pid())
            if m is None or rss is None:
                continue
            calls, _ = m
            samples.append({"t": round(time.time() - started, 1), "calls": calls, "rss_kib": rss, "runs": len(self.runs())})
            # New tickets keep arriving (a few dozen a minute), so calls are not only polls.
            if time.time() > next_batch:
                batch = self.tickets(first, 20, ["OK", "OK", "GATE", "FAIL"])
                first += 20
                self.all_tickets += batch
                self.write_tickets(self.all_tickets)
                next_batch = time.time() + 30
            # A plugin killed now and then.
            if chaos_rng.random() < 0.1:
                pids = self.plugin_pids()
                if pids:
                    os.kill(chaos_rng.choice(pids), signal.SIGKILL)
                    self.events["plugin-sigkill"] += 1
            if len(samples) % 12 == 0:
                log("%d plugin calls, RSS %d MiB, %d runs" % (calls, rss // 1024, samples[-1]["runs"]))
            if calls - samples[0]["calls"] >= a.calls:
                break
        # Let the last tickets finish, then stop.
        finish_by = time.time() + 180
        while self.outstanding(self.all_tickets) and time.time() < finish_by:
            time.sleep(1)
        final_metrics = self.metrics()
        code = self.stop_robodev(signal.SIGTERM)
        self.figures["memory"] = {"samples": samples, "exit": code, "outcomes": dict(final_metrics[1]) if final_metrics else {}}

    def rss(self, pid):
        try:
            with open("/proc/%d/status" % pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            return None
        return None

    def keep_log(self, why):
        self.events["robodev-log-kept"] += 1
        log("robodev %s; its log: %s" % (why, self.proc_log))

    # ---- checks --------------------------------------------------------------------------------

    def checks(self):
        failures = []
        runs = self.runs()
        expected_ids = {t["id"] for t in self.all_tickets}
        agents = collections.Counter(r["ticket"] for r in read_jsonl(os.path.join(self.journal, "agents.jsonl")))
        tracker = read_jsonl(os.path.join(self.journal, "tracker.jsonl"))
        pager = read_jsonl(os.path.join(self.journal, "pager.jsonl"))
        webhook = read_jsonl(os.path.join(self.journal, "webhook.jsonl"))
        logch = read_jsonl(os.path.join(self.journal, "log-channel.jsonl"))
        states = collections.Counter()
        # What each channel was told of each run's end: ticket -> [{"success": bool}].
        told = {}
        for name, seen, key, event, complete in (
            ("pager", pager, "ticket", "op", "NotifyComplete"),
            ("webhook", webhook, "ticketId", "event", "complete"),
            ("log", logch, "ticket_id", "event", "notify_complete"),
        ):
            by_ticket = collections.defaultdict(list)
            for e in seen:
                if e.get(event) == complete:
                    by_ticket[e.get(key)].append({"success": bool(e.get("success"))})
            told[name] = by_ticket

        lost = sorted(expected_ids - set(runs))
        if lost:
            failures.append("%d ticket(s) have no run: %s" % (len(lost), lost[:10]))
        unsettled = [i for i in expected_ids if i in runs and not self.settled(runs[i])]
        if unsettled:
            failures.append("%d run(s) not settled, reported and told: %s" % (len(unsettled), sorted(unsettled)[:10]))
        strays = sorted(set(runs) - expected_ids)

        for tid in sorted(expected_ids & set(runs)):
            run = runs[tid]
            states[run["state"]] += 1
            kind = tid.split("-")[0]
            n = agents[tid]
            # Ran twice: the agent started more often than the run's attempts, or more than
            # max_retries + 1 times.
            if n > run["attempts"] or n > 2:
                failures.append("%s: its agent started %d time(s) for %d attempt(s)" % (tid, n, run["attempts"]))
            if kind == "REFUSE" and (n or run["state"] != "Failed"):
                failures.append("%s: refused by the guard rails, yet state %s, agent ran %d time(s)" % (tid, run["state"], n))
            if run["state"] == "Succeeded" and kind not in ("OK", "SLOW"):
                failures.append("%s: Succeeded, but its agent never succeeds" % tid)
            if kind in ("GATE", "FAIL", "CRASH") and run["state"] == "Failed":
                pass
            if kind in ("OK", "SLOW") and run["state"] != "Succeeded":
                reason = run.get("reason") or ""
                # Acceptable only when something outside the agent went wrong: robodev was
                # stopped during the run, the review gate was unavailable, or the state
                # directory (the agent's workspace) was full.
                if not re.search(r"interrupted|review gate unavailable|deadline|cannot|file system is full", reason):
                    failures.append("%s: %s (%s) though its agent succeeds" % (tid, run["state"], reason[:200]))
            # Reported to the tracker: its last word for the ticket must match the outcome.
            marks = [e for e in tracker if e["ticket"] == tid and e["op"] in ("MarkComplete", "MarkFailed")]
            if not marks:
                failures.append("%s: the tracker never heard its outcome" % tid)
            else:
                want = "MarkComplete" if run["state"] == "Succeeded" else "MarkFailed"
                wrong = [e["op"] for e in marks if e["op"] != want]
                if wrong:
                    failures.append("%s: %s but the tracker was told %s" % (tid, run["state"], wrong))
            success = run["state"] == "Succeeded"
            for name, seen in told.items():
                for e in seen.get(tid, []):
                    if e["success"] != success:
                        failures.append("%s: %s, but channel %s was told success=%s" % (tid, run["state"], name, e["success"]))

        notes = {}
        for name, seen in told.items():
            started = [t for t in expected_ids if t in runs and runs[t]["steps"]["start_notified"]]
            notes[name] = {
                "complete_notices": sum(len(v) for v in seen.values()),
                "runs_not_told": sum(1 for t in started if not seen.get(t)),
                "runs_told_twice": sum(1 for v in seen.values() if len(v) > 1),
            }

        # Leftovers: no plugin process, no socket directory, nothing outside the state dir.
        left_pids = self.leftover_processes()
        if left_pids:
            failures.append("process(es) left running: %s" % left_pids)
        left_dirs = os.listdir(os.path.join(self.work, "tmp"))
        if left_dirs:
            failures.append("left in robodev's TMPDIR (socket directories?): %s" % left_dirs[:5])
        # Failed runs' workspaces are kept, but only the last executor.keep_failed (20).
        kept = os.listdir(os.path.join(self.state.path, "workspaces")) if os.path.isdir(os.path.join(self.state.path, "workspaces")) else []
        if len(kept) > 20:
            failures.append("%d workspaces left in the state directory (keep_failed is 20)" % len(kept))
        if os.path.exists("/tmp/soak-escape"):
            failures.append("a hostile ticket id wrote /tmp/soak-escape outside the state directory")

        samples = self.figures.get("memory", {}).get("samples", [])
        memory = {}
        if samples:
            warm = [s for s in samples if s["calls"] >= samples[-1]["calls"] * 0.1] or samples
            base = warm[0]
            peak = max(s["rss_kib"] for s in warm)
            memory = {
                "calls": samples[-1]["calls"] - samples[0]["calls"],
                "calls_total": samples[-1]["calls"],
                "rss_first_kib": samples[0]["rss_kib"],
                "rss_after_warmup_kib": base["rss_kib"],
                "rss_last_kib": samples[-1]["rss_kib"],
                "rss_peak_kib": peak,
                "runs_first": samples[0]["runs"],
                "runs_last": samples[-1]["runs"],
            }
            if samples[-1]["calls"] - samples[0]["calls"] < self.args.calls * 0.9:
                failures.append("the memory phase made only %d plugin calls" % (samples[-1]["calls"] - samples[0]["calls"]))
            growth = (samples[-1]["rss_kib"] - base["rss_kib"]) / base["rss_kib"]
            memory["growth_after_warmup"] = round(growth, 3)
            if growth > self.args.rss_growth:
                failures.append("RSS grew %.0f%% after warm-up (%d -> %d KiB)" % (growth * 100, base["rss_kib"], samples[-1]["rss_kib"]))

        chaos_done = collections.Counter(e["did"] for e in read_jsonl(os.path.join(self.journal, "chaos.jsonl")))
        self.figures.update(
            {
                "tickets": len(expected_ids),
                "states": dict(states),
                "stray_runs_from_hostile_tickets": strays,
                "agent_starts": sum(agents.values()),
                "tracker_marks": collections.Counter(e["op"] for e in tracker),
                "channels": notes,
                "workspaces_left": len(kept),
                "faults_injected": dict(self.events),
                "plugin_misbehaviour": dict(chaos_done),
                "memory_summary": memory,
                "failures": failures,
            }
        )
        return failures

    def close(self):
        self.stop_chaos.set()
        if self.proc is not None:
            self.stop_robodev(signal.SIGKILL)
        self.registry.stop()
        self.webhook.shutdown()
        self.state.close()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--robodev", required=True)
    p.add_argument("--python", required=True, help="the SDK venv's python (the chaos plugin's interpreter)")
    p.add_argument("--review-wasm", required=True)
    p.add_argument("--webhook-wasm", required=True)
    p.add_argument("--work", required=True, help="working directory (emptied first)")
    p.add_argument("--result", required=True, help="where the figures go (JSON)")
    p.add_argument("--tickets", type=int, default=400)
    p.add_argument("--minutes", type=float, default=30, help="phase 1's deadline")
    p.add_argument("--kill-every", type=float, default=20, help="mean seconds between robodev kills")
    p.add_argument("--calls", type=int, default=100000, help="plugin calls of phase 2")
    p.add_argument("--jobs", type=int, default=4)
    p.add_argument("--state-mb", type=int, default=24)
    p.add_argument("--poll-interval", default="1s")
    p.add_argument("--fast-poll", default="5ms")
    p.add_argument("--chaos", default="die=0.01,hang=0.005,slow=0.03,garbage=0.02")
    p.add_argument("--light-chaos", default="die=0.0005,slow=0.002,garbage=0.001")
    p.add_argument("--rss-growth", type=float, default=0.10, help="allowed RSS growth after warm-up")
    p.add_argument("--seed", type=int, default=int(time.time()))
    args = p.parse_args()
    # A SIGTERM (or SIGINT) ends the soak through the finally below: robodev, its plugins and
    # the registry stopped, the tmpfs unmounted, the figures so far written.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("soak: stopped by SIGTERM"))
    soak = Soak(args)
    failures = ["the soak did not finish"]
    try:
        soak.set_up()
        soak.phase_faults()
        if args.calls > 0:
            soak.phase_memory()
        failures = soak.checks()
    finally:
        soak.close()
        soak.figures["seed"] = args.seed
        soak.figures["args"] = {k: v for k, v in vars(args).items() if k not in ("robodev", "python")}
        with open(args.result, "w") as f:
            json.dump(soak.figures, f, indent=2, default=list)
    summary = {k: v for k, v in soak.figures.items() if k not in ("memory",)}
    print(json.dumps(summary, indent=2, default=list))
    if failures:
        log("FAILED: %d check(s)" % len(failures))
        for f in failures:
            print("  - " + f)
        sys.exit(1)
    log("passed: every check holds")


if __name__ == "__main__":
    main()
