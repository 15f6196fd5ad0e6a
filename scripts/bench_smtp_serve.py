"""The end-to-end SMTP benchmark, run by scripts/bench-smtp-serve: a real `flare serve` mailing 2,000 subscribers
of one system through the SMTP sink, at several configured rates, and the same at one rate with the server killed
(SIGKILL) mid-send and restarted on the same database, counting who was mailed twice and who never.

Usage: bench_smtp_serve.py FLARE_BINARY SINK_ADDR SINK_DIR [--rates 50,100,200,1000] [--crash-runs 3]

Every run gets its own database in a temporary directory and its own recipient prefix, so one sink serves them
all: a run counts only the messages addressed to its own recipients. Arrival times are the sink files' mtimes
(the sink writes a message, closes it and renames it before it answers 250). Prints a table and PASS/FAIL lines;
exits 1 on any FAIL. Stops every process it started, also on failure.
"""

import argparse
import collections
import json
import os
import signal
import smtplib
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request

SUBSCRIBERS = 2000
# The rate up to which flare must keep pace, and the share of the rate it must reach there.
PACED_UP_TO = 200.0
PACE_TARGET = 0.8
# The SMTP pool's size (flare_embedded::POOL_SIZE): the dispatcher records the ledger after every batch of this
# many messages, so a crash may re-send at most this many.
POOL_SIZE = 4
CRASH_RATE = 200.0
CRASH_AFTER = 500
MAIL_FROM = "flare@flare.example"

children = []


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_all():
    for proc in children:
        if proc.poll() is None:
            proc.kill()
    for proc in children:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass


def poll_until(what, seconds, check, interval=0.02):
    """Polls CHECK until it returns a true value, or fails after SECONDS."""
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise RuntimeError("timed out after {}s waiting for {}".format(seconds, what))
        time.sleep(interval)


class Sink:
    """The messages the sink stored for one run's recipients: recipient -> arrival times."""

    def __init__(self, directory, prefix):
        self.directory = directory
        self.prefix = prefix
        self.seen = set()
        self.arrivals = collections.defaultdict(list)

    def scan(self):
        for name in os.listdir(self.directory):
            if not name.endswith(".eml") or name in self.seen:
                continue
            self.seen.add(name)
            path = os.path.join(self.directory, name)
            with open(path, "rb") as f:
                head = f.read(4096).decode("utf-8", "replace")
            for line in head.split("\r\n"):
                if line.startswith("X-Sink-Rcpt-To: "):
                    for rcpt in line[len("X-Sink-Rcpt-To: "):].split(", "):
                        if rcpt.startswith(self.prefix):
                            self.arrivals[rcpt].append(os.stat(path).st_mtime)
                    break
        return self

    def clear(self):
        """Deletes the messages read so far, so later runs scan a short directory (the sink is idle by then)."""
        for name in self.seen:
            try:
                os.remove(os.path.join(self.directory, name))
            except FileNotFoundError:
                pass

    def messages(self):
        return sum(len(times) for times in self.arrivals.values())


class Serve:
    """One `flare serve` on DB, mailing through the sink at RATE."""

    def __init__(self, flare, db, sink_addr, rate, log):
        self.port = free_port()
        host, port = sink_addr.rsplit(":", 1)
        env = dict(os.environ)
        env.update(
            FLARE_SMTP_HOST=host,
            FLARE_SMTP_PORT=port,
            FLARE_SMTP_TLS="none",
            FLARE_MAIL_FROM=MAIL_FROM,
            FLARE_MAIL_RATE=str(int(rate)),
        )
        self.proc = subprocess.Popen(
            [flare, "--db", db, "serve", "--bind", "127.0.0.1:{}".format(self.port), "--worker-poll-secs", "1"],
            env=env,
            stdout=log,
            stderr=log,
        )
        children.append(self.proc)
        poll_until("flare serve to answer", 60, self.answers, interval=0.1)

    def answers(self):
        if self.proc.poll() is not None:
            raise RuntimeError("flare serve exited with {} while starting".format(self.proc.returncode))
        try:
            with urllib.request.urlopen("http://127.0.0.1:{}/healthz".format(self.port), timeout=2):
                return True
        except OSError:
            return False

    def open_incident(self, token):
        body = json.dumps(
            {
                "title": "Mail benchmark",
                "description": "Measuring the mail path end to end.",
                "severity": "sev2",
                "systems": [{"system": "mail", "impact": "major_outage"}],
            }
        ).encode()
        request = urllib.request.Request(
            "http://127.0.0.1:{}/api/incidents".format(self.port),
            data=body,
            headers={"Content-Type": "application/json", "Authorization": "Bearer " + token},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            if answer.status != 201:
                raise RuntimeError("POST /api/incidents answered {}".format(answer.status))

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)


def prepare(flare, workdir, prefix):
    """A fresh database with SUBSCRIBERS subscribers of system `mail` and a user-less writing key's token."""
    db = os.path.join(workdir, "flare.db")
    csv = os.path.join(workdir, "subscribers.csv")
    with open(csv, "w") as f:
        f.write("system,system_name,email,phone,name\n")
        for i in range(SUBSCRIBERS):
            f.write("mail,Mail,{}{:04d}@bench.example,,Person {}\n".format(prefix, i, i))
    subprocess.run([flare, "--db", db, "systems", "import", csv], check=True, capture_output=True)
    key = subprocess.run(
        [flare, "--db", db, "keys", "create", "--name", "bench", "--scope", "incidents:write"],
        check=True,
        capture_output=True,
        text=True,
    )
    return db, key.stdout.strip()


def queue_empty(db):
    with sqlite3.connect("file:{}?mode=ro".format(db), uri=True) as conn:
        return conn.execute("SELECT count(*) FROM dispatch_queue").fetchone()[0] == 0


def floor(sink_addr, n=SUBSCRIBERS):
    """The sink's own pace: Python's smtplib over one connection, messages per second."""
    host, port = sink_addr.rsplit(":", 1)
    body = "From: {}\r\nSubject: Probe\r\n\r\n".format(MAIL_FROM) + "Probe line.\r\n" * 100
    with smtplib.SMTP(host, int(port)) as smtp:
        start = time.perf_counter()
        for i in range(n):
            smtp.sendmail(MAIL_FROM, ["floor{}@example.org".format(i)], body)
        return n / (time.perf_counter() - start)


def paced_run(flare, sink_addr, sink_dir, rate, tag, logdir):
    """Opens the incident at RATE; returns (seconds from the first to the last message, messages/s)."""
    prefix = "r{}-".format(tag)
    with tempfile.TemporaryDirectory() as workdir, open(os.path.join(logdir, "serve-{}.log".format(tag)), "w") as log:
        db, token = prepare(flare, workdir, prefix)
        serve = Serve(flare, db, sink_addr, rate, log)
        sink = Sink(sink_dir, prefix)
        serve.open_incident(token)
        budget = 30 + 3 * SUBSCRIBERS / rate
        poll_until("{} messages at rate {}".format(SUBSCRIBERS, rate), budget, lambda: sink.scan().messages() >= SUBSCRIBERS, 0.05)
        serve.stop()
        sink.clear()
        times = sorted(t for ts in sink.arrivals.values() for t in ts)
        span = times[-1] - times[0]
        return span, (len(times) - 1) / span if span > 0 else float("inf")


def crash_run(flare, sink_addr, sink_dir, tag, logdir):
    """SIGKILLs serve after CRASH_AFTER messages, restarts it; returns (messages at the kill, duplicates, missing)."""
    prefix = "c{}-".format(tag)
    with tempfile.TemporaryDirectory() as workdir, open(os.path.join(logdir, "serve-{}.log".format(tag)), "w") as log:
        db, token = prepare(flare, workdir, prefix)
        serve = Serve(flare, db, sink_addr, CRASH_RATE, log)
        sink = Sink(sink_dir, prefix)
        serve.open_incident(token)
        poll_until("{} messages before the kill".format(CRASH_AFTER), 60, lambda: sink.scan().messages() >= CRASH_AFTER, 0.005)
        serve.kill9()
        at_kill = sink.scan().messages()
        serve = Serve(flare, db, sink_addr, CRASH_RATE, log)
        budget = 30 + 3 * SUBSCRIBERS / CRASH_RATE
        poll_until("the restarted worker to empty its queue", budget, lambda: queue_empty(db), 0.1)
        serve.stop()
        sink.scan().clear()
        duplicates = sum(1 for ts in sink.arrivals.values() if len(ts) > 1)
        missing = SUBSCRIBERS - len(sink.arrivals)
        return at_kill, duplicates, missing


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("flare")
    parser.add_argument("sink_addr")
    parser.add_argument("sink_dir")
    parser.add_argument("--rates", default="50,100,200,1000")
    parser.add_argument("--crash-runs", type=int, default=3)
    parser.add_argument("--logdir", default=tempfile.gettempdir())
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",") if r]
    ok = True
    try:
        sink_floor = floor(args.sink_addr)
        Sink(args.sink_dir, "floor").scan().clear()
        print("\nThe sink's floor (Python smtplib, one connection): {:.0f} messages/s\n".format(sink_floor))
        print("| configured rate | messages | seconds first→last | messages/s | × rate | × sink floor |")
        print("|---|---|---|---|---|---|")
        verdicts = []
        for i, rate in enumerate(rates):
            span, mps = paced_run(args.flare, args.sink_addr, args.sink_dir, rate, "p{}".format(i), args.logdir)
            print("| {:.0f} | {} | {:.2f} | {:.1f} | {:.2f} | {:.2f} |".format(rate, SUBSCRIBERS, span, mps, mps / rate, mps / sink_floor), flush=True)
            if rate <= PACED_UP_TO:
                passed = mps >= PACE_TARGET * rate
                ok &= passed
                verdicts.append("{}: rate {:.0f}: {:.1f} messages/s ≥ {:.1f}× the rate".format("PASS" if passed else "FAIL", rate, mps, PACE_TARGET))
            else:
                verdicts.append("INFO: rate {:.0f}: {:.1f} messages/s, {:.2f}× the sink's floor".format(rate, mps, mps / sink_floor))

        print("\n| crash run (rate {:.0f}, SIGKILL after {}) | messages at the kill | duplicates | missing |".format(CRASH_RATE, CRASH_AFTER))
        print("|---|---|---|---|")
        for i in range(args.crash_runs):
            at_kill, duplicates, missing = crash_run(args.flare, args.sink_addr, args.sink_dir, "c{}".format(i), args.logdir)
            print("| {} | {} | {} | {} |".format(i + 1, at_kill, duplicates, missing), flush=True)
            passed = duplicates <= POOL_SIZE and missing == 0
            ok &= passed
            verdicts.append("{}: crash run {}: {} duplicates (≤ {}), {} missing (0)".format("PASS" if passed else "FAIL", i + 1, duplicates, POOL_SIZE, missing))
        print()
        for line in verdicts:
            print(line)
    finally:
        stop_all()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
