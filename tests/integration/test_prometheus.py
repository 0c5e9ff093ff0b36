#!/usr/bin/env python3
"""The Prometheus rules and the Grafana dashboard under deploy/, checked by
the real tools.

* promtool: `check rules` on deploy/prometheus/sesrelay-rules.yml, and
  `test rules` on its unit tests, which must hold a firing and a quiet case
  for every alert (and fail when an alert's expression is broken).
* A real Prometheus (Debian's `prometheus`) on loopback scrapes a running
  relay every second (backend ses against the AWS emulator) and loads the
  rules. Through its HTTP API: the target is up; the counters move by
  exactly the traffic sent; SesrelayNoVerifiedCredentials fires when the
  role's trust is revoked in the emulator and resolves when it is restored;
  SesrelayReloadFailed fires after a refused SIGHUP reload; every expression of the dashboard evaluates without error and returns
  data (the queue panels from a second relay in queue mode), and its
  variables find the relays.

The rules Prometheus loads are derived from the production file in
setUpClass: the same expressions, with each alert's `for:` turned from
minutes into as many seconds and the groups evaluated every second, so an
alert's life takes seconds instead of minutes. Nothing else differs (the
test checks that), and the production file is what promtool checks.
"""

import copy
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sesrelay_daemon as sd  # noqa: E402
import testdeps  # noqa: E402

import test_metrics  # noqa: E402
from test_metrics import Scrape, message, send  # noqa: E402

testdeps.require_module("yaml", "Debian package python3-yaml", at_import=True)
import yaml  # noqa: E402

# test_metrics found the Prometheus client's parser (Debian's, if need be)
if test_metrics.text_string_to_metric_families is None:
    testdeps.exit_missing("Python module prometheus_client",
                          "Debian package python3-prometheus-client")

ROOT = os.environ.get("PROJECT_ROOT") or os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
RULES = os.path.join(ROOT, "deploy", "prometheus", "sesrelay-rules.yml")
RULE_TESTS = os.path.join(ROOT, "deploy", "prometheus", "sesrelay-rules.test.yml")
DASHBOARD = os.path.join(ROOT, "deploy", "grafana", "sesrelay.json")
METRICS_RE = r'event=metrics\.listen addr=(\S+)|"event":"metrics\.listen".*?"addr":"([^"]+)"'
JOB = "sesrelay"
QJOB = "sesrelay-queue"     # a second relay, in queue mode


def need(tool):
    return testdeps.require_tool(tool, "Debian package prometheus (.ci/packages)")


def load_rules():
    with open(RULES) as f:
        return yaml.safe_load(f)


def alerts_of(doc):
    return [r for g in doc["groups"] for r in g["rules"] if "alert" in r]


# -- promtool ---------------------------------------------------------------------

class Promtool(unittest.TestCase):
    def promtool(self, *args, cwd=None):
        return subprocess.run([need("promtool"), *args], capture_output=True, text=True,
                              timeout=120, cwd=cwd)

    def test_check_rules(self):
        p = self.promtool("check", "rules", RULES)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("SUCCESS", p.stdout)

    def test_rule_unit_tests(self):
        p = self.promtool("test", "rules", os.path.basename(RULE_TESTS),
                          cwd=os.path.dirname(RULE_TESTS))
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("SUCCESS", p.stdout)

    def test_every_alert_fires_and_stays_quiet_in_the_unit_tests(self):
        names = {r["alert"] for r in alerts_of(load_rules())}
        self.assertGreaterEqual(len(names), 6)
        with open(RULE_TESTS) as f:
            tests = yaml.safe_load(f)
        fires, quiet = set(), set()
        for t in tests["tests"]:
            for a in t.get("alert_rule_test", []):
                (fires if a.get("exp_alerts") else quiet).add(a["alertname"])
        self.assertEqual(sorted(names - fires), [], "alerts never shown to fire")
        self.assertEqual(sorted(names - quiet), [], "alerts never shown to stay quiet")
        self.assertEqual(sorted((fires | quiet) - names), [], "tests of alerts that do not exist")

    def test_unit_tests_notice_a_broken_alert(self):
        """Each alert replaced by one that never fires makes `promtool test
        rules` fail: the firing cases really look at the alert."""
        need("promtool")
        doc = load_rules()
        with tempfile.TemporaryDirectory() as d:
            shutil.copy(RULE_TESTS, d)
            for name in [r["alert"] for r in alerts_of(doc)]:
                broken = copy.deepcopy(doc)
                for r in alerts_of(broken):
                    if r["alert"] == name:
                        r["expr"] = "vector(1) == 0"
                with open(os.path.join(d, os.path.basename(RULES)), "w") as f:
                    yaml.safe_dump(broken, f)
                p = self.promtool("test", "rules", os.path.basename(RULE_TESTS), cwd=d)
                self.assertNotEqual(p.returncode, 0, name)
                self.assertIn(name, p.stdout + p.stderr)

    def test_check_rules_notices_an_error(self):
        need("promtool")
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "bad.yml")
            with open(RULES) as f:
                text = f.read()
            with open(path, "w") as f:
                f.write(text.replace("sesrelay_credentials_ready == 0",
                                     "sesrelay_credentials_ready == = 0"))
            p = self.promtool("check", "rules", path)
        self.assertNotEqual(p.returncode, 0)


# -- dashboard, statically ----------------------------------------------------------

def dashboard():
    with open(DASHBOARD) as f:
        return json.load(f)


def panels_of(dash):
    return [p for p in dash["panels"] if p["type"] != "row"]


class DashboardFile(unittest.TestCase):
    def test_shape(self):
        dash = dashboard()
        panels = panels_of(dash)
        ids = [p["id"] for p in dash["panels"]]
        self.assertEqual(len(ids), len(set(ids)), "panel ids unique")
        variables = {v["name"]: v for v in dash["templating"]["list"]}
        self.assertEqual(variables["datasource"]["type"], "datasource")
        self.assertEqual(variables["datasource"]["query"], "prometheus")
        titles = " ".join(p["title"].lower() for p in panels)
        for topic in ("messages", "class", "latency", "aws code", "credentials",
                      "expire", "connections"):
            self.assertIn(topic, titles)
        for p in panels:
            with self.subTest(panel=p["title"]):
                self.assertTrue(p["targets"])
                self.assertEqual(p["datasource"]["uid"], "${datasource}")
                g = p["gridPos"]
                self.assertLessEqual(g["x"] + g["w"], 24)
                for t in p["targets"]:
                    self.assertEqual(t["datasource"]["uid"], "${datasource}")
                    # every query is limited to the chosen relays
                    self.assertIn('job=~"$job",instance=~"$instance"', t["expr"])

    def test_recording_rules_used_exist(self):
        records = {r["record"] for g in load_rules()["groups"] for r in g["rules"]
                   if "record" in r}
        used = set()
        for p in panels_of(dashboard()):
            for t in p["targets"]:
                used |= set(re.findall(r"\b(sesrelay:[a-z_:0-9]+)", t["expr"]))
        self.assertTrue(used)
        self.assertEqual(sorted(used - records), [])


# -- a real Prometheus scraping a real relay ----------------------------------------

def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def minutes_to_seconds(duration):
    """'2m' -> '2s', '90s' -> '2s' (at least one second)."""
    m = re.fullmatch(r"(\d+)([smh])", duration)
    n = int(m.group(1)) * {"s": 1, "m": 60, "h": 3600}[m.group(2)]
    return "%ds" % max(1, n // 60)


def derived_rules(doc):
    out = copy.deepcopy(doc)
    for g in out["groups"]:
        g["interval"] = "1s"
        for r in g["rules"]:
            if "for" in r:
                r["for"] = minutes_to_seconds(r["for"])
    return out


def expand(expr, instance=".*", rate_interval="1m", job=JOB):
    """An expression as Grafana sends it: variables substituted."""
    return (expr.replace("$__rate_interval", rate_interval)
            .replace("$job", job).replace("$instance", instance))


class Prometheus:
    """One Prometheus server on loopback with its own config and storage."""

    def __init__(self, workdir, targets, rules_doc):
        self.workdir = workdir
        self.proc = None
        self.log_path = os.path.join(workdir, "prometheus.log")
        with open(os.path.join(workdir, "rules.yml"), "w") as f:
            yaml.safe_dump(rules_doc, f)
        config = {
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s",
                       "evaluation_interval": "1s"},
            "rule_files": ["rules.yml"],
            "scrape_configs": [{"job_name": job, "static_configs": [{"targets": [target]}]}
                               for job, target in targets.items()],
        }
        with open(os.path.join(workdir, "prometheus.yml"), "w") as f:
            yaml.safe_dump(config, f)
        self.config = config

    def start(self):
        exe = need("prometheus")
        for _ in range(5):     # the port is free when chosen, not reserved
            self.port = free_port()
            self.log = open(self.log_path, "w")
            self.proc = subprocess.Popen(
                [exe, "--config.file=" + os.path.join(self.workdir, "prometheus.yml"),
                 "--storage.tsdb.path=" + os.path.join(self.workdir, "data"),
                 "--web.listen-address=127.0.0.1:%d" % self.port],
                stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT,
                cwd=self.workdir)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    with urllib.request.urlopen(self.url("/-/ready"), timeout=2) as r:
                        if r.status == 200:
                            return self
                except OSError:
                    time.sleep(0.2)
            self.stop()
            if "address already in use" not in self.log_tail():
                break
        raise AssertionError("prometheus did not start:\n" + self.log_tail())

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.log.close()

    def log_tail(self, n=30):
        with open(self.log_path, errors="replace") as f:
            return "".join(f.readlines()[-n:])

    def url(self, path, **query):
        q = ("?" + urllib.parse.urlencode(query, doseq=True)) if query else ""
        return "http://127.0.0.1:%d%s%s" % (self.port, path, q)

    def api(self, path, **query):
        """data of a successful API answer; raises with Prometheus's error."""
        try:
            with urllib.request.urlopen(self.url("/api/v1/" + path, **query), timeout=30) as r:
                doc = json.load(r)
        except urllib.error.HTTPError as e:
            doc = json.load(e)
        if doc.get("status") != "success":
            raise AssertionError("%s %r: %s %s" % (path, query, doc.get("errorType"),
                                                   doc.get("error")))
        return doc["data"]

    def query(self, expr):
        return self.api("query", query=expr)

    def value(self, expr):
        """The single sample of an instant vector, or None when empty."""
        res = self.query(expr)["result"]
        if not res:
            return None
        if len(res) != 1:
            raise AssertionError("%s: %d series" % (expr, len(res)))
        return float(res[0]["value"][1])

    def alerts(self, name):
        return [a for a in self.api("alerts")["alerts"] if a["labels"]["alertname"] == name]


class LivePrometheusTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        sd.require_binary()
        need("prometheus")
        testdeps.require_aws_modules()
        from aws_emulator import Emulator
        cls.tmp = tempfile.mkdtemp(prefix="sesrelay-prom-")
        cls.emu = Emulator(strict=True)
        cls.emu.start()
        cls.d = cls.q = cls.prom = None
        try:
            cls.d = sd.Daemon({"metrics_listen": "127.0.0.1:0", "log_level": "info",
                               "backend": "ses", "role_arn": cls.emu.role_arn,
                               "external_id": cls.emu.external_id, "region": cls.emu.region,
                               "ses_timeout": "10", "ses_max_retries": "0"},
                              workdir=os.path.join(cls.tmp, "relay"), env=cls.emu.daemon_env())
            os.makedirs(cls.d.workdir, exist_ok=True)
            cls.d.start()
            m = re.search(METRICS_RE, cls.d.wait_log(METRICS_RE))
            cls.admin = m.group(1) or m.group(2)
            # the same relay in queue mode, for the dashboard's queue panels
            cls.q = sd.Daemon(dict(cls.d.config, delivery="queue", bounces="off",
                                   queue_dir=os.path.join(cls.tmp, "queue")),
                              workdir=os.path.join(cls.tmp, "queue-relay"),
                              env=cls.emu.daemon_env())
            os.makedirs(cls.q.workdir, exist_ok=True)
            cls.q.start()
            m = re.search(METRICS_RE, cls.q.wait_log(METRICS_RE))
            cls.qadmin = m.group(1) or m.group(2)
            os.makedirs(os.path.join(cls.tmp, "prom"))
            cls.rules = derived_rules(load_rules())
            cls.prom = Prometheus(os.path.join(cls.tmp, "prom"),
                                  {JOB: cls.admin, QJOB: cls.qadmin}, cls.rules).start()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            if cls.prom:
                cls.prom.stop()
            for d in (cls.d, cls.q):
                if d:
                    if d.alive():
                        d.stop()
                    d.cleanup()
        finally:
            cls.emu.stop()
            shutil.rmtree(cls.tmp, ignore_errors=True)

    def setUp(self):
        self.emu.clear_faults()
        self.emu.set_trust(True)
        self.wait(lambda: self.prom.value('sesrelay_credentials_ready{job="%s"}' % JOB) == 1,
                  60, "the relay's credentials, as Prometheus sees them")

    def wait(self, pred, timeout, what):
        return sd.wait_until(pred, timeout, 0.2, what + "\nprometheus:\n" + self.prom.log_tail(10)
                             + "\nrelay:\n" + self.d.log_tail(10))

    # -- tests -------------------------------------------------------------

    def test_derived_rules_differ_only_in_durations(self):
        prod = load_rules()
        for g_prod, g_test in zip(prod["groups"], self.rules["groups"]):
            self.assertEqual(g_test["interval"], "1s")
            for a, b in zip(g_prod["rules"], g_test["rules"]):
                self.assertEqual({k: v for k, v in a.items() if k != "for"},
                                 {k: v for k, v in b.items() if k != "for"})
        self.assertEqual(len(prod["groups"]), len(self.rules["groups"]))
        # and Prometheus loaded all of them without error
        loaded = self.prom.api("rules")["groups"]
        n = sum(len(g["rules"]) for g in loaded)
        self.assertEqual(n, sum(len(g["rules"]) for g in prod["groups"]))
        for g in loaded:
            for r in g["rules"]:
                self.assertEqual(r["health"], "ok", (r["name"], r.get("lastError")))

    def test_reload_alert(self):
        """A refused SIGHUP reload raises SesrelayReloadFailed; a good one
        does not."""
        name = "SesrelayReloadFailed"
        failed = 'sesrelay_reloads_total{job="%s",outcome="failed"}' % JOB
        ok = 'sesrelay_reloads_total{job="%s",outcome="ok"}' % JOB
        ok0 = self.prom.value(ok)
        if self.prom.value(failed) == 0:
            line = self.d.reload()
            self.assertNotIn("keeping the old configuration", line)
            self.wait(lambda: self.prom.value(ok) == ok0 + 1, 30, "the good reload counted")
            self.assertEqual(self.prom.alerts(name), [])
        self.d.config["no_such_key"] = "1"
        try:
            line = self.d.reload()
        finally:
            del self.d.config["no_such_key"]
            self.d.write_config()
        self.assertIn("keeping the old configuration", line)

        def firing():
            return [a for a in self.prom.alerts(name) if a["state"] == "firing"]
        [alert] = self.wait(firing, 60, name + " firing")
        self.assertEqual(alert["labels"]["instance"], self.admin)

    def test_target_up(self):
        def targets():
            return {t["labels"]["job"]: t for t in self.prom.api("targets")["activeTargets"]}
        self.assertEqual({j: t["labels"]["instance"] for j, t in targets().items()},
                         {JOB: self.admin, QJOB: self.qadmin})
        self.wait(lambda: all(t["health"] == "up" for t in targets().values()), 30,
                  "targets up")
        for job, t in targets().items():
            self.assertEqual(t["lastError"], "")
            self.assertEqual(self.prom.value('up{job="%s"}' % job), 1)

    def test_counters_move_by_exactly_the_traffic(self):
        series = {
            "messages": 'sesrelay_messages_sent_total{job="%s"}' % JOB,
            "recipients": 'sesrelay_recipients_total{job="%s"}' % JOB,
            "bytes": 'sesrelay_message_bytes_total{job="%s"}' % JOB,
            "accepted": 'sesrelay_smtp_transactions_total{job="%s",class="2xx"}' % JOB,
            "rejected": 'sesrelay_smtp_transactions_total{job="%s",class="5xx"}' % JOB,
            "ses_requests": 'sesrelay_ses_request_duration_seconds_count{job="%s"}' % JOB,
            "connections": 'sesrelay_connections_total{job="%s"}' % JOB,
        }
        def relay():
            s = Scrape(self.admin)
            return {
                "messages": s("sesrelay_messages_sent_total"),
                "recipients": s("sesrelay_recipients_total"),
                "bytes": s("sesrelay_message_bytes_total"),
                "accepted": s("sesrelay_smtp_transactions_total", outcome="accepted",
                              **{"class": "2xx"}),
                "rejected": s("sesrelay_smtp_transactions_total", outcome="rejected",
                              **{"class": "5xx"}),
                "ses_requests": s("sesrelay_ses_request_duration_seconds_count"),
                "connections": s("sesrelay_connections_total"),
            }

        def prom():
            return {k: self.prom.value(e) for k, e in series.items()}

        # Quiet relay: Prometheus has caught up with what the relay says.
        before = relay()
        self.wait(lambda: prom() == before, 30, "Prometheus to show %r" % before)
        n, rcpts, size = 4, ["a@example.org", "b@example.org", "c@example.org"], 0
        for i in range(n):
            raw = message(subject="prom %d" % i, body="line %d\r\n" % i)
            code, text = send(self.d.addr, rcpts, raw)
            self.assertEqual(code, 250, text)
            size += len(raw)
        # one refused by SES: a 5xx, nothing sent
        self.emu.fault("SendRawEmail", status=400, code="MessageRejected", message="x", count=1)
        code, text = send(self.d.addr, rcpts[:1], message(subject="refused"))
        self.assertGreaterEqual(code, 500, text)
        want = dict(before)
        want["messages"] += n
        want["recipients"] += n * len(rcpts)
        want["bytes"] += size
        want["accepted"] += n
        want["rejected"] += 1
        want["ses_requests"] += n + 1
        want["connections"] += n + 1
        self.wait(lambda: prom() == want, 30, "Prometheus to show %r" % want)
        # and it stays there: three more scrapes later, nothing more
        stamp = 'timestamp(sesrelay_messages_sent_total{job="%s"})' % JOB
        t0 = self.prom.value(stamp)
        self.wait(lambda: self.prom.value(stamp) >= t0 + 3, 30, "three more scrapes")
        self.assertEqual(prom(), want)
        self.assertEqual(relay(), want)

    def test_dashboard_expressions_return_data(self):
        # Traffic, and one SES error so the errors-by-code panel has a code.
        for i in range(3):
            code, text = send(self.d.addr, ["a@example.org"], message(subject="dash %d" % i))
            self.assertEqual(code, 250, text)
        self.emu.fault("SendRawEmail", status=400, code="MessageRejected", message="x", count=1)
        code, text = send(self.d.addr, ["a@example.org"], message(subject="dash refused"))
        self.assertGreaterEqual(code, 500, text)
        self.wait(lambda: self.prom.value(
            'sum(sesrelay:ses_errors:rate5m{job="%s",code="MessageRejected"})' % JOB),
            30, "the recording rules to see the error")
        # And one failed credential refresh, so the STS errors panel has a
        # code: the held credentials expire and STS refuses the next
        # AssumeRole once; the cache's retry gets new ones.
        sts_errors = 'sesrelay_sts_errors_total{job="%s",code="AccessDenied"}' % JOB
        before = self.prom.value(sts_errors) or 0
        self.emu.fault("AssumeRole", status=403, code="AccessDenied", message="x", count=1)
        self.emu.expire()
        send(self.d.addr, ["a@example.org"], message(subject="dash expired"))
        self.wait(lambda: (self.prom.value(sts_errors) or 0) > before, 60,
                  "Prometheus to see the STS error")
        # Traffic through the queue-mode relay too, delivered from its queue.
        code, text = send(self.q.addr, ["a@example.org"], message(subject="dash queued"))
        self.assertEqual(code, 250, text)
        self.wait(lambda: self.prom.value(
            'sesrelay_queue_delivered_total{job="%s"}' % QJOB) == 1, 60,
            "Prometheus to see the queued message delivered")
        # both relays hold credentials again (the expired set renewed)
        for job in (JOB, QJOB):
            self.wait(lambda: self.prom.value('sesrelay_credentials_ready{job="%s"}' % job) == 1
                      and self.prom.value('sesrelay_identity_info{job="%s"}' % job) == 1,
                      120, "credentials of %s again" % job)
        nonzero = {"Messages sent", "Recipients", "Message bytes", "SES requests",
                   "SES errors by AWS code", "Transactions by outcome and class",
                   "SES request latency", "Credentials ready", "Credentials expire in",
                   "Sending identity", "Version"}
        for p in panels_of(dashboard()):
            for t in p["targets"]:
                # queue panels from the queue-mode relay, the rest from the
                # other; "All" and then the exact instance, as Grafana
                # substitutes one chosen value
                job, admin = ((QJOB, self.qadmin) if "sesrelay_queue_" in t["expr"]
                              else (JOB, self.admin))
                for instance in (".*", admin.replace(".", "[.]")):
                    expr = expand(t["expr"], instance=instance, job=job)
                    with self.subTest(panel=p["title"], expr=expr):
                        res = self.prom.query(expr)
                        self.assertEqual(res["resultType"], "vector")
                        self.assertTrue(res["result"], "no data")
                        if p["title"] in nonzero:
                            self.assertTrue(any(float(s["value"][1]) > 0
                                                for s in res["result"]), res["result"])
        # the variables' queries (Grafana's label_values) find this relay
        dash = dashboard()
        variables = {v["name"]: v for v in dash["templating"]["list"]}
        for name in ("job", "instance"):
            m = re.fullmatch(r"label_values\((.*), (\w+)\)", variables[name]["query"]["query"])
            self.assertEqual(m.group(2), name)
            values = self.prom.api("label/%s/values" % name, **{"match[]": expand(m.group(1))})
            self.assertEqual(values, sorted([JOB, QJOB]) if name == "job" else [self.admin])

    def test_credentials_alert_follows_the_role_trust(self):
        name = "SesrelayNoVerifiedCredentials"
        self.assertEqual(self.prom.alerts(name), [])
        # Trust revoked and the held credentials expired: the next send is
        # refused by SES, the cache drops them and cannot get new ones.
        self.emu.set_trust(False)
        self.emu.expire()
        code, text = send(self.d.addr, ["a@example.org"], message(subject="no creds"))
        self.assertTrue(400 <= code < 500, (code, text))

        def firing():
            return [a for a in self.prom.alerts(name) if a["state"] == "firing"]
        [alert] = self.wait(firing, 60, name + " firing")
        self.assertEqual(alert["labels"]["instance"], self.admin)
        self.assertEqual(alert["labels"]["severity"], "critical")
        self.assertIn(self.admin, alert["annotations"]["summary"])
        # the other alerts stay quiet: this is not an expiry
        self.assertEqual(self.prom.alerts("SesrelayCredentialsExpiring"), [])
        # Trust restored: the cache's backoff retry gets credentials again
        # and the alert resolves.
        self.emu.set_trust(True)
        self.wait(lambda: self.prom.alerts(name) == [], 120, name + " resolved")
        self.assertEqual(self.prom.value('sesrelay_credentials_ready{job="%s"}' % JOB), 1)
        [rule] = [r for g in self.prom.api("rules", type="alert")["groups"]
                  for r in g["rules"] if r["name"] == name]
        self.assertEqual(rule["state"], "inactive")
        code, text = send(self.d.addr, ["a@example.org"], message(subject="again"))
        self.assertEqual(code, 250, text)


if __name__ == "__main__":
    sd.main()
