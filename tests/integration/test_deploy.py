#!/usr/bin/env python3
"""Deployment artefacts under deploy/: the systemd unit (systemd-analyze),
the Containerfile (dockerfilelint, parsed; its packages resolved with
apt-cache and matched against the binary's libraries), the Kubernetes base
and overlays (rendered by `kubectl kustomize` and cross-checked per kind, no
cluster here), the CloudFormation templates
(cfn-lint, and resolved to the same documents `sesrelay policy` prints)
and the manual pages (mandoc lint, every configuration key documented).
"""

import copy
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

ROOT = os.environ.get("PROJECT_ROOT") or os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("SESRELAY_BIN")
BUILD = os.environ.get("BUILD_ROOT")
DEPLOY = os.path.join(ROOT, "deploy")

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import testdeps  # noqa: E402

testdeps.require_module("yaml", "Debian package python3-yaml", at_import=True)
import yaml  # noqa: E402


def read(*parts):
    with open(os.path.join(ROOT, *parts), encoding="utf-8") as f:
        return f.read()


def config_table():
    """{key: default or None} from the key table in src/core/config.c."""
    src = read("src", "core", "config.c")
    block = src[src.index("static const struct key keys[] = {"):]
    block = block[:block.index("\n};")]
    keys = {}
    for m in re.finditer(r'^\s*(?:[A-Z]\(|\{)\s*"([a-z0-9_]+)",\s*(?:T_\w+,\s*OFF\(\w+\)|\w+),'
                         r'\s*("[^"]*"|NULL)', block, re.M):
        keys[m.group(1)] = None if m.group(2) == "NULL" else m.group(2)[1:-1]
    return keys


def conf_keys(text):
    keys = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keys.append(line.split()[0])
    return keys


def conf_values(text):
    out = {}
    for line in text.splitlines():
        line = line.split(" #")[0].strip()
        if line and not line.startswith("#"):
            k, _, v = line.partition(" ")
            out[k] = v.strip()
    return out


def need(tool):
    return testdeps.require_tool(tool, "the Debian packages in .ci/packages")


# ---------------------------------------------------------------------------
# systemd
# ---------------------------------------------------------------------------

def parse_unit(text):
    """[(section, key, value)] in order; keys may repeat, as in systemd."""
    out, section = [], None
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        k, _, v = line.partition("=")
        out.append((section, k.strip(), v.strip()))
    return out


class Systemd(unittest.TestCase):
    UNIT = os.path.join(DEPLOY, "systemd", "sesrelay.service")

    def setUp(self):
        self.entries = parse_unit(read("deploy", "systemd", "sesrelay.service"))

    def values(self, key):
        return [v for s, k, v in self.entries if s == "Service" and k == key]

    def one(self, key):
        v = self.values(key)
        self.assertEqual(len(v), 1, f"{key}: {v}")
        return v[0]

    def test_hardening(self):
        for key, want in (("ProtectSystem", "strict"), ("ProtectHome", "yes"),
                          ("PrivateTmp", "yes"), ("NoNewPrivileges", "yes"),
                          ("MemoryDenyWriteExecute", "yes"), ("LockPersonality", "yes"),
                          ("ProtectKernelTunables", "yes"), ("ProtectKernelModules", "yes"),
                          ("ProtectKernelLogs", "yes"), ("ProtectControlGroups", "yes"),
                          ("Restart", "on-failure"), ("DynamicUser", "yes")):
            self.assertEqual(self.one(key), want, key)
        self.assertEqual(self.one("CapabilityBoundingSet"), "")
        self.assertEqual(self.one("AmbientCapabilities"), "")
        self.assertEqual(set(self.one("RestrictAddressFamilies").split()),
                         {"AF_INET", "AF_INET6", "AF_UNIX"})
        self.assertEqual(self.values("SystemCallFilter")[0], "@system-service")
        self.assertIn("/var/lib/sesrelay", self.one("ReadWritePaths").split())

    def test_commands_and_files(self):
        self.assertEqual(self.one("ExecStart").split(),
                         ["/usr/sbin/sesrelay", "--config", "/etc/sesrelay/sesrelay.conf"])
        self.assertEqual(self.one("ExecReload"), "/bin/kill -HUP $MAINPID")
        self.assertEqual(self.one("EnvironmentFile"), "-/etc/sesrelay/env")
        # exit 2 = configuration error (sesrelay(8)); restarting cannot fix it
        self.assertEqual(self.one("RestartPreventExitStatus"), "2")
        self.assertIn("CAP_NET_BIND_SERVICE", read("deploy", "systemd", "sesrelay.service"))

    def verify(self, text):
        need("systemd-analyze")
        if not BIN:
            self.skipTest("SESRELAY_BIN not set")
        with tempfile.TemporaryDirectory() as d:
            unit = os.path.join(d, "sesrelay.service")
            with open(unit, "w") as f:
                # verify wants the ExecStart binary to exist
                f.write(text.replace("/usr/sbin/sesrelay", os.path.abspath(BIN)))
            env = dict(os.environ)
            args = ["systemd-analyze", "verify"]
            if shutil.which("man"):
                # Documentation=man:... must resolve to our own pages
                for sec, name in (("8", "sesrelay.8"), ("5", "sesrelay.conf.5")):
                    os.makedirs(os.path.join(d, "man", "man" + sec), exist_ok=True)
                    shutil.copy(os.path.join(DEPLOY, "man", name),
                                os.path.join(d, "man", "man" + sec, name))
                env["MANPATH"] = os.path.join(d, "man")
            else:
                args.append("--man=no")
            p = subprocess.run(args + [unit], capture_output=True, text=True, env=env,
                               timeout=120)
            return p.returncode, p.stdout + p.stderr

    def test_systemd_analyze_verify(self):
        rc, out = self.verify(read("deploy", "systemd", "sesrelay.service"))
        self.assertEqual((rc, out), (0, ""))
        # the check notices a misspelt setting (systemd only warns)
        rc, out = self.verify(read("deploy", "systemd", "sesrelay.service").replace(
            "ProtectKernelTunables=", "ProtectKernelTunable="))
        self.assertIn("ProtectKernelTunable", out)

    def test_exposure_score(self):
        need("systemd-analyze")
        if not BIN:
            self.skipTest("SESRELAY_BIN not set")
        with tempfile.TemporaryDirectory() as d:
            unit = os.path.join(d, "sesrelay.service")
            with open(unit, "w") as f:
                f.write(read("deploy", "systemd", "sesrelay.service"))
            p = subprocess.run(["systemd-analyze", "security", "--offline=yes",
                                "--threshold=20", unit], capture_output=True, text=True,
                               timeout=120)
            m = re.search(r"Overall exposure level for sesrelay.service: ([\d.]+)", p.stdout)
            self.assertIsNotNone(m, p.stdout + p.stderr)
            self.assertEqual(p.returncode, 0, f"exposure {m.group(1)} above 2.0")


# ---------------------------------------------------------------------------
# Containerfile
# ---------------------------------------------------------------------------

def parse_containerfile(text):
    """[(INSTRUCTION, args)] with continuations joined and comments dropped."""
    out, cur = [], ""
    for line in text.splitlines():
        s = line.strip()
        if not cur and (not s or s.startswith("#")):
            continue
        if s.startswith("#"):
            continue
        if s.endswith("\\"):
            cur += s[:-1] + " "
            continue
        cur += s
        ins, _, args = cur.partition(" ")
        out.append((ins.upper(), args.strip()))
        cur = ""
    return out


def apt_packages(run_args):
    m = re.search(r"apt-get install ([^&;]*)", run_args)
    return [w for w in m.group(1).split() if not w.startswith("-")] if m else []


class Container(unittest.TestCase):
    def setUp(self):
        self.ins = parse_containerfile(read("deploy", "container", "Containerfile"))
        froms = [i for i, (k, _) in enumerate(self.ins) if k == "FROM"]
        self.assertEqual(len(froms), 2, "two stages: build and runtime")
        self.build = self.ins[froms[0]:froms[1]]
        self.runtime = self.ins[froms[1]:]
        self.args = {a.split("=")[0].split()[0]: a.split("=", 1)[1]
                     for k, a in self.ins if k == "ARG" and "=" in a}

    def image(self, from_args):
        ref = from_args.split()[0]
        return re.sub(r"\$\{(\w+)\}", lambda m: self.args[m.group(1)], ref)

    def test_stages(self):
        self.assertTrue(self.build[0][1].endswith(" AS build"))
        for stage in (self.build, self.runtime):
            self.assertRegex(self.image(stage[0][1]), r"(^|/)debian:(12|bookworm)-slim$")
        runs = " ".join(a for k, a in self.build if k == "RUN")
        self.assertIn("meson setup", runs)
        self.assertIn("meson install", runs)
        self.assertIn("--prefix=/usr", runs)

    def test_runtime_stage(self):
        runs = [a for k, a in self.runtime if k == "RUN"]
        pkgs = set(p for r in runs for p in apt_packages(r))
        self.assertEqual(pkgs, {"libuv1", "libssl3", "libcurl4", "libcjson1", "libidn2-0",
                                "ca-certificates", "curl"})
        self.assertTrue(all("--no-install-recommends" in r for r in runs if "apt-get install" in r))
        self.assertTrue(all("rm -rf /var/lib/apt/lists" in r for r in runs if "apt-get" in r))
        user = [a for k, a in self.runtime if k == "USER"]
        self.assertEqual(len(user), 1)
        uid = user[0].split(":")[0]
        self.assertTrue(uid.isdigit() and int(uid) > 0, "numeric non-root USER")
        self.assertEqual(sorted(a for k, a in self.runtime if k == "EXPOSE"), ["2525 9470"])
        hc = [a for k, a in self.runtime if k == "HEALTHCHECK"]
        self.assertEqual(len(hc), 1)
        self.assertRegex(hc[0], r"CMD .*http://127\.0\.0\.1:9470/healthz")
        ep = [a for k, a in self.runtime if k == "ENTRYPOINT"]
        self.assertEqual(json.loads(ep[0]),
                         ["/usr/sbin/sesrelay", "--config", "/etc/sesrelay/sesrelay.conf"])
        copies = [a for k, a in self.runtime if k == "COPY"]
        self.assertIn("--from=build /out/usr/sbin/sesrelay /usr/sbin/sesrelay", copies)
        self.assertIn("deploy/container/sesrelay.conf /etc/sesrelay/sesrelay.conf", copies)

    def dockerfilelint(self, text):
        exe = testdeps.require_tool("dockerfilelint", "npm package dockerfilelint "
                                    "(.ci/npm-packages; .ci/run installs it)")
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "Containerfile")
            with open(path, "w") as f:
                f.write(text)
            p = subprocess.run([exe, "-o", "json", path], capture_output=True, text=True,
                               timeout=120)
        return json.loads(p.stdout)["totalIssues"], p.stdout

    def test_dockerfilelint(self):
        text = read("deploy", "container", "Containerfile")
        self.assertEqual(self.dockerfilelint(text)[0], 0)
        # the linter is really looking: an apt-get that could prompt is caught
        self.assertGreater(self.dockerfilelint(text.replace("install -y", "install", 1))[0], 0)

    def test_copied_sources_exist(self):
        for k, a in self.ins:
            if k != "COPY" or a.startswith("--from"):
                continue
            for src in a.split()[:-1]:
                self.assertTrue(os.path.exists(os.path.join(ROOT, src)), src)

    def test_container_config_keys(self):
        text = read("deploy", "container", "sesrelay.conf")
        known = config_table()
        for k in conf_keys(text):
            self.assertIn(k, known)
        v = conf_values(text)
        self.assertTrue(v["listen"].endswith(":2525"))
        self.assertTrue(v["metrics_listen"].endswith(":9470"))

    def test_healthcheck_against_the_relay(self):
        """The image's configuration loads in the real relay, and the
        HEALTHCHECK command, pointed at the port the relay bound, passes.
        Only the addresses (free loopback ports) and the back end (outbox:
        no AWS here) differ from the image."""
        need("curl")
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from sesrelay_daemon import Daemon
        conf = conf_values(read("deploy", "container", "sesrelay.conf"))
        conf.update({"listen": "127.0.0.1:0", "metrics_listen": "127.0.0.1:0",
                     "backend": "outbox"})
        hc = [a for k, a in self.runtime if k == "HEALTHCHECK"][0]
        cmd = json.loads(hc[hc.index("CMD ") + 4:])
        with Daemon(config=conf) as d:
            line = d.wait_log(r"metrics\.listen")
            m = re.search(r'addr"?[=:]"?127\.0\.0\.1:(\d+)', line)
            self.assertIsNotNone(m, d.log_tail())
            port = m.group(1)
            argv = [a.replace("127.0.0.1:9470", "127.0.0.1:" + port) for a in cmd]
            self.assertNotEqual(argv, cmd, "health check must name 127.0.0.1:9470")
            ok = subprocess.run(argv, capture_output=True, text=True, timeout=30)
            self.assertEqual(ok.returncode, 0, ok.stderr)
            # and it would notice a dead endpoint
            bad = [a.replace("/healthz", "/nonexistent") for a in argv]
            self.assertNotEqual(subprocess.run(bad, capture_output=True, timeout=30).returncode, 0)

    def test_packages_exist(self):
        need("apt-cache")
        pkgs = set(p for k, a in self.ins if k == "RUN" for p in apt_packages(a))
        if subprocess.run(["apt-cache", "show", "libc6"], capture_output=True).returncode:
            self.skipTest("no apt package lists (apt-get update)")
        r = subprocess.run(["apt-cache", "show", "--no-all-versions", *sorted(pkgs)],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        found = set(re.findall(r"^Package: (\S+)$", r.stdout, re.M))
        self.assertEqual(sorted(pkgs - found), [], "not in the archive")

    def test_runtime_has_every_library(self):
        """Each library the binary links directly comes from a package the
        runtime stage installs (or from the base image's libc)."""
        for t in ("readelf", "ldd", "dpkg"):
            need(t)
        if not BIN:
            self.skipTest("SESRELAY_BIN not set")
        needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]",
                            subprocess.run(["readelf", "-d", BIN], capture_output=True,
                                           text=True, check=True).stdout)
        paths = dict(re.findall(r"^\s*(\S+) => (\S+)", subprocess.run(
            ["ldd", BIN], capture_output=True, text=True, check=True).stdout, re.M))
        runtime = set(p for k, a in self.runtime if k == "RUN" for p in apt_packages(a))
        allowed = runtime | {"libc6"}
        for lib in needed:
            if lib.startswith("libasan") or lib.startswith("libubsan"):
                continue
            path = paths[lib]
            out = subprocess.run(["dpkg", "-S", os.path.realpath(path)], capture_output=True,
                                 text=True)
            if out.returncode != 0:
                out = subprocess.run(["dpkg", "-S", path], capture_output=True, text=True)
            pkg = out.stdout.split(":")[0].strip()
            self.assertIn(pkg, allowed, f"{lib} ({path}) comes from {pkg}")

    def test_meson_install_layout(self):
        """The paths the runtime stage copies out of `meson install`."""
        if not BUILD:
            self.skipTest("BUILD_ROOT not set")
        with tempfile.TemporaryDirectory() as d:
            subprocess.run(["meson", "install", "-C", BUILD, "--no-rebuild", "--quiet",
                            "--destdir", d], check=True, capture_output=True, timeout=300)
            found = {os.path.relpath(os.path.join(p, f), d)
                     for p, _, fs in os.walk(d) for f in fs}
        for suffix in ("sbin/sesrelay", "share/man/man8/sesrelay.8",
                       "share/man/man5/sesrelay.conf.5"):
            self.assertTrue(any(f.endswith(suffix) for f in found), (suffix, found))


# ---------------------------------------------------------------------------
# README install steps
# ---------------------------------------------------------------------------

def readme_block(heading):
    """Commands of the first code block after a README heading, comments
    removed."""
    text = read("README.md")
    start = text.index("\n" + heading + "\n")
    block = re.search(r"^```\n(.*?)^```", text[start:], re.M | re.S).group(1)
    return [l.split(" #")[0].strip() for l in block.splitlines() if l.strip()]


class ReadmeInstall(unittest.TestCase):
    def test_install_steps_install_to_usr(self):
        """Runs Building's `meson setup` and then Installing's commands as
        written, build directories moved into a temporary directory and
        `meson install` given --destdir; the binary must land where the
        systemd unit runs it, the pages where man finds them."""
        need("meson")
        steps = [c for c in readme_block("## Building") if c.startswith("meson setup")]
        steps += readme_block("### Installing")
        self.assertTrue(any(c.startswith("meson install") for c in steps), steps)
        with tempfile.TemporaryDirectory(prefix="sesrelay-install-") as d:
            root = os.path.join(d, "root")
            for cmd in steps:
                words = cmd.split()
                self.assertEqual(words[0], "meson", cmd)
                if words[1] == "setup":
                    words[2] = os.path.join(d, words[2])
                for i, w in enumerate(words[:-1]):
                    if w == "-C":
                        words[i + 1] = os.path.join(d, words[i + 1])
                if words[1] == "install":
                    words += ["--destdir", root]
                p = subprocess.run(words, cwd=ROOT, capture_output=True, text=True,
                                   timeout=1200)
                self.assertEqual(p.returncode, 0, "%s\n%s%s" % (cmd, p.stdout[-2000:],
                                                               p.stderr[-2000:]))
            found = sorted(os.path.relpath(os.path.join(p, f), root)
                           for p, _, fs in os.walk(root) for f in fs)
            unit = parse_unit(read("deploy", "systemd", "sesrelay.service"))
            [exe] = [v.split()[0] for sec, k, v in unit if (sec, k) == ("Service", "ExecStart")]
            self.assertEqual(exe, "/usr/sbin/sesrelay")
            self.assertEqual(found, ["usr/sbin/sesrelay", "usr/sbin/sesrelay-sendmail",
                                     "usr/share/man/man5/sesrelay.conf.5",
                                     "usr/share/man/man8/sesrelay.8"])
            self.assertEqual(os.readlink(os.path.join(root, "usr/sbin/sesrelay-sendmail")),
                             "sesrelay")
            out = subprocess.run([os.path.join(root, exe.lstrip("/")), "--version"],
                                 capture_output=True, text=True, timeout=30)
            self.assertEqual(out.returncode, 0)
            self.assertTrue(out.stdout.startswith("sesrelay "))


class ReadmeEmulator(unittest.TestCase):
    """README tells how to get the emulator's packages and which versions:
    the pins it names are the requirements file's, and are what this
    machine runs the suites with."""

    def test_pinned_versions(self):
        pins = {}
        with open(os.path.join(ROOT, "tests", "integration", "requirements.txt")) as f:
            for line in f:
                line = line.split("#")[0].strip()
                if line:
                    name, _, version = line.partition("==")
                    pins[name.split("[")[0]] = version
        self.assertEqual(sorted(pins), ["boto3", "botocore", "moto"])
        readme = read("README.md")
        self.assertIn("tests/integration/requirements.txt", readme)
        for name, version in pins.items():
            self.assertIn("%s %s" % (name, version), readme)
        try:
            import boto3
            import botocore
            import moto
        except ImportError:
            if os.environ.get("CI") == "true":
                raise
            self.skipTest("moto/boto3 not importable here")
        self.assertEqual({"moto": moto.__version__, "boto3": boto3.__version__,
                          "botocore": botocore.__version__}, pins)

    def test_by_hand_endpoints_exist(self):
        """The /_emu/ endpoints README shows are ones the emulator serves."""
        text = read("README.md")
        emu = read("tests", "integration", "aws_emulator.py")
        shown = set(re.findall(r"/_emu/([a-z/]+)", text))
        self.assertTrue({"messages", "stats", "trust", "fault"} <= shown, shown)
        for path in shown:
            self.assertRegex(emu, r"(GET|POST) +/_emu/" + re.escape(path) + r"\b", path)


# ---------------------------------------------------------------------------
# Kubernetes
# ---------------------------------------------------------------------------

K8S = os.path.join(DEPLOY, "kubernetes")
OVERLAYS = os.path.join(K8S, "overlays")
API = {"Deployment": "apps/v1", "StatefulSet": "apps/v1", "Service": "v1", "ConfigMap": "v1",
       "ServiceAccount": "v1", "Namespace": "v1", "PodDisruptionBudget": "policy/v1",
       "NetworkPolicy": "networking.k8s.io/v1"}
WORKLOADS = ("Deployment", "StatefulSet")
DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
# Queue mode's keys, which the statefulset overlay adds to the base's file.
QUEUE_KEYS = {"delivery", "queue_dir", "send_rate_share", "bounce_from"}


def selects(selector, labels):
    return all(labels.get(k) == v for k, v in selector.items())


def kubectl():
    """kubectl (Debian: kubernetes-client), or the one $KUBECTL names."""
    return testdeps.require_tool("kubectl", "Debian package kubernetes-client (.ci/packages)",
                                 path=os.environ.get("KUBECTL"))


def kustomize(path):
    """The objects `kubectl kustomize` renders from a kustomization directory."""
    p = subprocess.run([kubectl(), "kustomize", path], capture_output=True, text=True,
                       timeout=300)
    if p.returncode != 0:
        raise AssertionError(f"kubectl kustomize {path}: {p.stderr}")
    return [d for d in yaml.safe_load_all(p.stdout) if d is not None]


def overlay_names():
    return sorted(n for n in os.listdir(OVERLAYS)
                  if os.path.isfile(os.path.join(OVERLAYS, n, "kustomization.yaml")))


def yaml_files(directory):
    return sorted(n for n in os.listdir(directory)
                  if n.endswith((".yaml", ".yml")) and n != "kustomization.yaml")


class Kustomization(unittest.TestCase):
    """The layout: a base and overlays, each kustomization naming every
    file beside it, and every overlay rendered by `kubectl kustomize`."""

    def kustomization(self, directory):
        with open(os.path.join(directory, "kustomization.yaml")) as f:
            return yaml.safe_load(f)

    def test_each_kustomization_lists_every_file(self):
        for d in [os.path.join(K8S, "base")] + [os.path.join(OVERLAYS, n)
                                                 for n in overlay_names()]:
            with self.subTest(dir=os.path.relpath(d, K8S)):
                k = self.kustomization(d)
                self.assertEqual(k["apiVersion"], "kustomize.config.k8s.io/v1beta1")
                self.assertEqual(k["kind"], "Kustomization")
                self.assertEqual(k["namespace"], "sesrelay")
                listed = k.get("resources", []) + k.get("patchesStrategicMerge", [])
                self.assertEqual(sorted(listed), yaml_files(d))
                if d != os.path.join(K8S, "base"):
                    self.assertEqual(k["bases"], ["../../base"])
        # nothing left at the top: it is the base and its overlays
        self.assertEqual(yaml_files(K8S), [])

    def test_overlays(self):
        self.assertTrue({"deployment", "statefulset"} <= set(overlay_names()))
        for name in overlay_names():
            with self.subTest(overlay=name):
                kinds = [d["kind"] for d in kustomize(os.path.join(OVERLAYS, name))]
                self.assertEqual(len([k for k in kinds if k in WORKLOADS]), 1, kinds)

    def test_the_statefulset_runs_the_deployments_pod(self):
        """One pod template in two files: the StatefulSet's is the
        Deployment's but for the state volume, a claim per replica instead
        of an emptyDir."""
        dep = [d for d in kustomize(os.path.join(OVERLAYS, "deployment"))
               if d["kind"] == "Deployment"][0]
        sts = [d for d in kustomize(os.path.join(OVERLAYS, "statefulset"))
               if d["kind"] == "StatefulSet"][0]
        a, b = copy.deepcopy(dep["spec"]["template"]), copy.deepcopy(sts["spec"]["template"])
        a["spec"]["volumes"] = [v for v in a["spec"]["volumes"] if v["name"] != "state"]
        self.assertEqual(a, b)
        for key in ("replicas", "revisionHistoryLimit", "selector"):
            self.assertEqual(dep["spec"][key], sts["spec"][key], key)

    def test_queue_overlay_config(self):
        """The statefulset overlay's sesrelay.conf is the base's plus the
        queue mode keys, with send_rate_share = 1 / replicas."""
        def conf(objs):
            return [d for d in objs if d["kind"] == "ConfigMap"][0]["data"]["sesrelay.conf"]
        base = conf(kustomize(os.path.join(K8S, "base")))
        objs = kustomize(os.path.join(OVERLAYS, "statefulset"))
        queue = conf(objs)
        self.assertTrue(queue.startswith(base), "the base's lines first, unchanged")
        added = conf_values(queue[len(base):])
        self.assertEqual(set(added), QUEUE_KEYS)
        self.assertEqual(added["delivery"], "queue")
        sts = [d for d in objs if d["kind"] == "StatefulSet"][0]
        self.assertAlmostEqual(float(added["send_rate_share"]), 1 / sts["spec"]["replicas"])
        mounts = {m["name"]: m["mountPath"]
                  for m in sts["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]}
        claims = [c["metadata"]["name"] for c in sts["spec"]["volumeClaimTemplates"]]
        self.assertTrue(any(added["queue_dir"].startswith(mounts[c] + "/") for c in claims),
                        "queue_dir on the replica's own volume")


class RenderedChecks:
    """Per-kind checks of the objects one overlay renders (no cluster here:
    kubeconform and kubeval are neither in Debian nor on npm)."""

    OVERLAY = None

    @classmethod
    def setUpClass(cls):
        cls.docs = kustomize(os.path.join(OVERLAYS, cls.OVERLAY))

    def of(self, kind):
        return [d for d in self.docs if d["kind"] == kind]

    def only(self, kind):
        docs = self.of(kind)
        self.assertEqual(len(docs), 1, kind)
        return docs[0]

    def workload(self):
        [w] = [d for d in self.docs if d["kind"] in WORKLOADS]
        return w

    def test_common_fields(self):
        for d in self.docs:
            with self.subTest(kind=d.get("kind"), name=d.get("metadata", {}).get("name")):
                self.assertIn(d["kind"], API)
                self.assertEqual(d["apiVersion"], API[d["kind"]])
                self.assertRegex(d["metadata"]["name"], DNS1123)
                if d["kind"] != "Namespace":
                    self.assertEqual(d["metadata"]["namespace"], "sesrelay")

    def pod(self):
        return self.workload()["spec"]["template"]

    def container(self):
        [c] = self.pod()["spec"]["containers"]
        return c

    def test_workload(self):
        w = self.workload()
        labels = self.pod()["metadata"]["labels"]
        self.assertTrue(selects(w["spec"]["selector"]["matchLabels"], labels))
        spec = self.pod()["spec"]
        self.assertEqual(spec["securityContext"]["runAsNonRoot"], True)
        c = self.container()
        ports = {p["name"]: p["containerPort"] for p in c["ports"]}
        self.assertEqual(ports, {"smtp": 2525, "metrics": 9470})
        for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
            get = c[probe]["httpGet"]
            self.assertEqual(get["path"], path)
            port = get["port"]
            self.assertEqual(ports.get(port, port), 9470)
        for part in ("requests", "limits"):
            self.assertEqual(set(c["resources"][part]), {"cpu", "memory"})
        sc = c["securityContext"]
        self.assertIs(sc["runAsNonRoot"], True)
        self.assertIs(sc["readOnlyRootFilesystem"], True)
        self.assertIs(sc["allowPrivilegeEscalation"], False)
        self.assertEqual(sc["capabilities"]["drop"], ["ALL"])
        # the uid the image declares
        cf = parse_containerfile(read("deploy", "container", "Containerfile"))
        uid = [a for k, a in cf if k == "USER"][-1].split(":")[0]
        self.assertEqual(str(spec["securityContext"]["runAsUser"]), uid)

    def volumes(self):
        """{name: volume} of the pod, claim templates included."""
        vols = {v["name"]: v for v in self.pod()["spec"].get("volumes", [])}
        for c in self.workload()["spec"].get("volumeClaimTemplates", []):
            vols[c["metadata"]["name"]] = {"persistentVolumeClaim": c}
        return vols

    def test_volumes_and_config(self):
        spec = self.pod()["spec"]
        vols = self.volumes()
        mounts = {m["mountPath"]: m["name"] for m in self.container()["volumeMounts"]}
        for name in mounts.values():
            self.assertIn(name, vols)
        # the image reads /etc/sesrelay/sesrelay.conf: it must come from the ConfigMap
        cm_name = vols[mounts["/etc/sesrelay"]]["configMap"]["name"]
        cms = {d["metadata"]["name"]: d for d in self.of("ConfigMap")}
        conf = cms[cm_name]["data"]["sesrelay.conf"]
        known = config_table()
        for k in conf_keys(conf):
            self.assertIn(k, known)
        v = conf_values(conf)
        self.assertTrue(v["listen"].endswith(":2525"))
        self.assertTrue(v["metrics_listen"].endswith(":9470"))
        self.assertRegex(v["role_arn"], r"^arn:aws[\w-]*:iam::\d{12}:role/[\w+=,.@-]+$")
        # a read-only root needs writable scratch where the relay writes
        self.assertIn("/var/lib/sesrelay", mounts)
        self.assertGreater(spec["terminationGracePeriodSeconds"], int(v.get("drain_timeout", 30)))

    def conf(self):
        [cm] = [d for d in self.of("ConfigMap") if d["metadata"]["name"] == "sesrelay-config"]
        return cm["data"]["sesrelay.conf"]

    def test_external_id_secret_is_not_optional(self):
        """A missing Secret must stop the pod, not start a relay without an
        ExternalId (the relay itself refuses an empty one: test_cli)."""
        env = {e["name"]: e for e in self.container()["env"]}
        ref = env["SESRELAY_EXTERNAL_ID"]["valueFrom"]["secretKeyRef"]
        self.assertIs(ref.get("optional"), False)
        self.assertEqual((ref["name"], ref["key"]), ("sesrelay", "external-id"))
        self.assertNotIn("external_id", conf_values(self.conf()))

    def test_listens_on_ipv6_and_ipv4(self):
        """[::] on a dual-stack socket (libuv binds without IPV6_V6ONLY):
        IPv6 clients, and IPv4 clients as ::ffff:a.b.c.d."""
        v = conf_values(self.conf())
        for key, port in (("listen", 2525), ("metrics_listen", 9470)):
            self.assertEqual(v[key], "[::]:%d" % port, key)

    def test_allow_list_and_placeholders_explained(self):
        conf = self.conf()
        comments = " ".join(l.strip("# ") for l in conf.splitlines() if l.strip().startswith("#"))
        nets = conf_values(conf)["allow_networks"]
        for net in nets.replace(",", " ").split():
            self.assertIn(net, comments, "allow_networks entry %s not explained" % net)
            self.assertNotRegex(net, r"/0$", "an open relay")
        self.assertIn("placeholder", comments.lower())
        with open(os.path.join(K8S, "base", "configmap.yaml")) as f:
            head = f.read()
        for placeholder in ("111111111111", "role_arn", "region", "allow_networks"):
            self.assertIn(placeholder, head.split("apiVersion:")[0], placeholder)

    def test_probe_paths_served_by_the_relay(self):
        """The probes ask paths the relay's admin endpoint answers: liveness
        200; readiness 200 or 503 (ready or not), never 404."""
        need("curl")
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from sesrelay_daemon import Daemon
        c = self.container()
        with Daemon(config={"metrics_listen": "127.0.0.1:0"}) as d:
            line = d.wait_log(r"metrics\.listen")
            port = re.search(r'addr"?[=:]"?127\.0\.0\.1:(\d+)', line).group(1)

            def status(path):
                return subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                                       f"http://127.0.0.1:{port}{path}"], capture_output=True,
                                      text=True, timeout=30).stdout
            self.assertEqual(status(c["livenessProbe"]["httpGet"]["path"]), "200")
            self.assertIn(status(c["readinessProbe"]["httpGet"]["path"]), ("200", "503"))
            self.assertEqual(status("/no-such-path"), "404")

    def test_service_account_irsa(self):
        sa = self.only("ServiceAccount")
        self.assertEqual(self.pod()["spec"]["serviceAccountName"], sa["metadata"]["name"])
        self.assertRegex(sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"],
                         r"^arn:aws[\w-]*:iam::\d{12}:role/[\w+=,.@/-]+$")

    def test_services(self):
        labels = self.pod()["metadata"]["labels"]
        ports = {p["name"] for p in self.container()["ports"]}
        svcs = self.of("Service")
        self.assertTrue(svcs)
        for s in svcs:
            self.assertTrue(selects(s["spec"]["selector"], labels))
            for p in s["spec"]["ports"]:
                self.assertIn(p["targetPort"], ports)
        [lb] = [s for s in svcs if s["spec"].get("type") == "LoadBalancer"]
        ann = lb["metadata"]["annotations"]
        self.assertEqual(ann["service.beta.kubernetes.io/aws-load-balancer-scheme"], "internal")
        self.assertEqual(ann["service.beta.kubernetes.io/aws-load-balancer-internal"], "true")
        self.assertIn("nlb", " ".join(ann).lower() + " " + " ".join(map(str, ann.values())))
        self.assertEqual([p["targetPort"] for p in lb["spec"]["ports"]], ["smtp"])

    def test_pdb(self):
        pdb = self.only("PodDisruptionBudget")
        self.assertTrue(selects(pdb["spec"]["selector"]["matchLabels"],
                                self.pod()["metadata"]["labels"]))
        self.assertLess(pdb["spec"]["minAvailable"], self.workload()["spec"]["replicas"])

    def test_network_policy(self):
        np = self.only("NetworkPolicy")
        self.assertTrue(selects(np["spec"]["podSelector"]["matchLabels"],
                                self.pod()["metadata"]["labels"]))
        self.assertIn("Ingress", np["spec"]["policyTypes"])
        ports = {p["name"] for p in self.container()["ports"]}
        smtp_rules = []
        for rule in np["spec"]["ingress"]:
            for p in rule["ports"]:
                self.assertIn(p["port"], ports)
            if any(p["port"] == "smtp" for p in rule["ports"]):
                smtp_rules.append(rule)
        self.assertEqual(len(smtp_rules), 1)
        peers = smtp_rules[0]["from"]
        labelled = [p for p in peers if p.get("podSelector", {}).get("matchLabels")]
        self.assertTrue(labelled, "SMTP only from labelled pods")
        for p in peers:
            self.assertTrue(p.get("podSelector") or p.get("ipBlock"),
                            "no peer admitting a whole namespace")
        # the load balancer's health check reaches the port it probes
        lb = [s for s in self.of("Service") if s["spec"].get("type") == "LoadBalancer"][0]
        hc_port = int(lb["metadata"]["annotations"][
            "service.beta.kubernetes.io/aws-load-balancer-healthcheck-port"])
        by_port = {p["containerPort"]: p["name"] for p in self.container()["ports"]}
        nlb_cidrs = {p["ipBlock"]["cidr"] for p in peers if "ipBlock" in p}
        hc_rules = [r for r in np["spec"]["ingress"]
                    if any(p["port"] == by_port[hc_port] for p in r["ports"])]
        self.assertTrue(any(nlb_cidrs & {p["ipBlock"]["cidr"] for p in r["from"] if "ipBlock" in p}
                            for r in hc_rules), "NLB health checks blocked")


class DeploymentOverlay(RenderedChecks, unittest.TestCase):
    OVERLAY = "deployment"


class StatefulSetOverlay(RenderedChecks, unittest.TestCase):
    OVERLAY = "statefulset"

    def test_statefulset(self):
        sts = self.only("StatefulSet")
        # the governing Service exists and is headless
        gov = [s for s in self.of("Service") if s["metadata"]["name"] == sts["spec"]["serviceName"]]
        self.assertEqual(len(gov), 1, sts["spec"]["serviceName"])
        self.assertEqual(gov[0]["spec"]["clusterIP"], "None")
        # the state directory is a volume per replica, not an emptyDir
        mounts = {m["mountPath"]: m["name"] for m in self.container()["volumeMounts"]}
        claims = {c["metadata"]["name"]: c for c in sts["spec"]["volumeClaimTemplates"]}
        claim = claims[mounts["/var/lib/sesrelay"]]
        self.assertEqual(claim["spec"]["accessModes"], ["ReadWriteOnce"])
        self.assertIn("storage", claim["spec"]["resources"]["requests"])
        self.assertNotIn(claim["metadata"]["name"],
                         {v["name"] for v in self.pod()["spec"]["volumes"]})


# ---------------------------------------------------------------------------
# CloudFormation
# ---------------------------------------------------------------------------

class CfnLoader(yaml.SafeLoader):
    pass


def _cfn_tag(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        v = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        v = loader.construct_sequence(node, deep=True)
    else:
        v = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": v}
    if suffix == "GetAtt" and isinstance(v, str):
        v = v.split(".", 1)
    return {"Fn::" + suffix: v}


CfnLoader.add_multi_constructor("!", _cfn_tag)
NOVALUE = object()


class Resolver:
    """Just the intrinsic functions the templates use, enough to turn a
    template plus parameters into the concrete policy documents."""

    def __init__(self, template, params, account, region="us-east-1"):
        self.t = template
        self.refs = {"AWS::Partition": "aws", "AWS::AccountId": account,
                     "AWS::Region": region, "AWS::NoValue": NOVALUE}
        for name, p in template.get("Parameters", {}).items():
            v = params.get(name, p.get("Default"))
            if v is None:
                raise KeyError(f"parameter {name} needs a value")
            if p["Type"] == "CommaDelimitedList":
                v = [x.strip() for x in v.split(",")] if v else [""]
            if "AllowedPattern" in p:
                # CloudFormation applies it to each item of a list
                for item in listify(v):
                    if not re.fullmatch(p["AllowedPattern"], str(item)):
                        raise ValueError(f"parameter {name}: {item!r} not allowed")
            self.refs[name] = v
        self.conds = {k: self.eval(v) for k, v in template.get("Conditions", {}).items()}
        self.atts = {}

    def eval(self, x):
        if isinstance(x, list):
            return [y for y in (self.eval(i) for i in x) if y is not NOVALUE]
        if not isinstance(x, dict):
            return x
        if len(x) == 1:
            (k, v), = x.items()
            if k == "Ref":
                return self.refs[v]
            if k == "Fn::If":
                return self.eval(v[1] if self.conds[v[0]] else v[2])
            if k == "Fn::Equals":
                a, b = self.eval(v)
                return a == b
            if k == "Fn::Not":
                return not self.eval(v[0])
            if k == "Fn::Join":
                return v[0].join(self.eval(v[1]))
            if k == "Fn::GetAtt":
                return self.atts[".".join(v)]
            if k == "Fn::Sub":
                tmpl, extra = (v, {}) if isinstance(v, str) else (v[0], self.eval(v[1]))

                def sub(m):
                    name = m.group(1)
                    if name in extra:
                        return extra[name]
                    if name in self.refs:
                        return self.refs[name]
                    return self.atts[name]
                return re.sub(r"\$\{([\w:.]+)\}", sub, tmpl)
        return {k: y for k, y in ((k, self.eval(v)) for k, v in x.items()) if y is not NOVALUE}


def load_template(name):
    with open(os.path.join(DEPLOY, "cloudformation", name)) as f:
        return yaml.load(f, Loader=CfnLoader)


def listify(v):
    return v if isinstance(v, list) else [v]


def normalize(doc):
    """Compare documents by meaning: Action/Resource/principal lists are
    sets, an account id principal is that account's root."""
    out = {"Version": doc["Version"], "Statement": []}
    for st in listify(doc["Statement"]):
        s = dict(st)
        for k in ("Action", "Resource"):
            if k in s:
                s[k] = sorted(listify(s[k]))
        if "Principal" in s:
            s["Principal"] = {"AWS": sorted(
                f"arn:aws:iam::{p}:root" if re.fullmatch(r"\d{12}", p) else p
                for p in listify(s["Principal"]["AWS"]))}
        out["Statement"].append(s)
    out["Statement"].sort(key=lambda s: s["Sid"])
    return out


class CloudFormation(unittest.TestCase):
    FILES = ("shared-account.yaml", "sender-account.yaml")

    def lint(self, *paths):
        exe = testdeps.require_tool("cfn-lint", "pip install cfn-lint (.ci/run installs it)")
        return subprocess.run([exe, "--", *paths], capture_output=True, text=True, timeout=300)

    def test_cfn_lint(self):
        p = self.lint(*(os.path.join(DEPLOY, "cloudformation", f) for f in self.FILES))
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def test_cfn_lint_catches_errors(self):
        text = read("deploy", "cloudformation", "sender-account.yaml").replace(
            "AWS::IAM::ManagedPolicy", "AWS::IAM::ManagedPolicyX")
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
            f.write(text)
        try:
            p = self.lint(f.name)
        finally:
            os.unlink(f.name)
        self.assertNotEqual(p.returncode, 0)

    def policy(self, *args):
        if not BIN:
            self.skipTest("SESRELAY_BIN not set")
        p = subprocess.run([BIN, "policy", *args], capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        return json.loads(p.stdout)

    CASES = [
        ({}, []),
        ({"ExternalId": "relay-ext-9", "ConfigurationSetName": "events",
          "ReadOnlyChecks": "true", "RoleName": "mail-sender", "SesRegion": "eu-west-1",
          "Identity": "noreply@example.org"},
         ["--external-id", "relay-ext-9", "--configuration-set", "events",
          "--read-only-checks", "--role-name", "mail-sender", "--source-arn"]),
    ]

    def test_shared_account_matches_policy_command(self):
        t = load_template("shared-account.yaml")
        for params, extra in self.CASES:
            with self.subTest(params=params):
                p = {"SenderAccountIds": "222222222222,333333333333", "Identity": "example.com"}
                p.update(params)
                region = p.get("SesRegion") or "us-east-1"
                args = ["--shared-account", "111111111111", "--sender-account", "222222222222",
                        "--sender-account", "333333333333", "--identity", p["Identity"],
                        "--region", region] + extra
                want = self.policy(*args)
                r = Resolver(t, p, "111111111111", region="us-east-1")
                r.atts["RelayRole.Arn"] = want["role_arn"]
                role = r.eval(t["Resources"]["RelayRole"]["Properties"])
                self.assertEqual(role["RoleName"], want["shared_account"]["role_name"])
                self.assertEqual(normalize(role["AssumeRolePolicyDocument"]),
                                 normalize(want["shared_account"]["role_trust_policy"]))
                [inline] = role["Policies"]
                self.assertEqual(normalize(inline["PolicyDocument"]),
                                 normalize(want["shared_account"]["role_permissions_policy"]))
                outputs = r.eval(t["Outputs"])
                ident_arn = outputs["IdentityArn"]["Value"]
                self.assertEqual(ident_arn, want["shared_account"]["role_permissions_policy"]
                                 ["Statement"][0]["Resource"][0])
                if "--source-arn" in extra:
                    doc = json.loads(outputs["IdentitySendingAuthorizationPolicy"]["Value"])
                    self.assertEqual(normalize(doc), normalize(
                        want["shared_account"]["identity_sending_authorization_policy"]))

    def test_parameter_patterns(self):
        t = load_template("shared-account.yaml")
        good = {"SenderAccountIds": "222222222222", "Identity": "example.com"}
        Resolver(t, good, "111111111111")
        for bad in ({"SenderAccountIds": "22222222222"},
                    {"SenderAccountIds": "222222222222,x"},
                    {"Identity": "*.example.com"}, {"Identity": "a*@example.com"},
                    {"Identity": "example"}, {"ExternalId": "has space"},
                    {"SesRegion": "EU-west-1"}, {"ConfigurationSetName": "a.b"},
                    {"RoleName": "a/b"}):
            with self.subTest(bad=bad):
                with self.assertRaises(ValueError):
                    Resolver(t, dict(good, **bad), "111111111111")

    def test_sender_account_matches_policy_command(self):
        t = load_template("sender-account.yaml")
        for role in ("ses-relay-sender", "other.role"):
            want = self.policy("--shared-account", "111111111111", "--sender-account",
                               "222222222222", "--identity", "example.com",
                               "--region", "us-east-1", "--role-name", role)
            r = Resolver(t, {"SharedAccountId": "111111111111", "RoleName": role},
                         "222222222222")
            r.refs["AssumeRelayRolePolicy"] = "arn:aws:iam::222222222222:policy/x"
            props = r.eval(t["Resources"]["AssumeRelayRolePolicy"]["Properties"])
            self.assertEqual(normalize(props["PolicyDocument"]),
                             normalize(want["sender_account"]["policy"]))
            self.assertNotIn("Roles", props)
            self.assertEqual(r.eval(t["Outputs"])["RelayRoleArn"]["Value"], want["role_arn"])


# ---------------------------------------------------------------------------
# Manual pages
# ---------------------------------------------------------------------------

class Manual(unittest.TestCase):
    PAGES = ("sesrelay.8", "sesrelay.conf.5")

    def test_mandoc_lint(self):
        need("mandoc")
        for page in self.PAGES:
            p = subprocess.run(["mandoc", "-T", "lint", "-W", "warning",
                                os.path.join(DEPLOY, "man", page)],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual((p.returncode, p.stdout + p.stderr), (0, ""), page)

    def entries(self):
        """{key: text of its .It entry} in sesrelay.conf.5."""
        text = read("deploy", "man", "sesrelay.conf.5")
        out = {}
        for m in re.finditer(r"^\.It Cm (\w+)(.*?)(?=^\.It |^\.El)", text, re.M | re.S):
            out[m.group(1)] = m.group(2)
        return out

    def test_every_config_key_documented(self):
        table = config_table()
        self.assertGreater(len(table), 40)
        docs = self.entries()
        self.assertEqual(sorted(set(table) - set(docs)), [], "keys missing from sesrelay.conf.5")
        self.assertEqual(sorted(set(docs) - set(table)), [], "documented keys that do not exist")
        for key, default in table.items():
            if default:
                with self.subTest(key=key):
                    self.assertIn(f"Default: {default}", docs[key])

    def test_sesrelay_8(self):
        text = read("deploy", "man", "sesrelay.8")
        for word in ("Cm run", "Cm check", "Cm whoami", "Cm passwd", "Cm policy", "Cm sendmail",
                     "Dv SIGTERM", "Dv SIGINT", "Dv SIGHUP", "SESRELAY_", ".Sh EXIT STATUS",
                     ".Sh ENVIRONMENT", ".Sh FILES"):
            self.assertIn(word, text)
        exit_codes = re.search(r"\.Sh EXIT STATUS(.*?)\.Sh", text, re.S).group(1)
        self.assertEqual(re.findall(r"^\.It (\d)$", exit_codes, re.M), ["0", "1", "2"])
        # every option the policy and check commands print in their usage
        if BIN:
            usage = subprocess.run([BIN, "policy", "--help"], capture_output=True,
                                   text=True).stdout
            usage += subprocess.run([BIN, "check", "--no-such-option"], capture_output=True,
                                    text=True).stderr
            opts = set(re.findall(r"--([a-z-]+)", usage)) - {"config", "no-such-option"}
            self.assertIn("send-test", opts)
            for opt in opts:
                self.assertIn("Fl \\-" + opt.replace("-", "\\-"), text, opt)
            # every option of the sendmail command's usage, long and short
            usage = subprocess.run([BIN, "sendmail", "--no-such-option"], capture_output=True,
                                   text=True).stderr
            self.assertIn("--server", usage)
            for opt in set(re.findall(r"--([a-z-]+)", usage)) - {"config", "no-such-option"}:
                self.assertIn("Fl \\-" + opt.replace("-", "\\-"), text, opt)
            for flag in re.findall(r"\[-([A-Za-z])\b", usage):
                self.assertIn("Fl " + flag, text, flag)
        # every AWS_* variable the code reads
        env_vars = set()
        for part in os.listdir(os.path.join(ROOT, "src")):
            if not os.path.isdir(os.path.join(ROOT, "src", part)):
                continue
            for name in os.listdir(os.path.join(ROOT, "src", part)):
                if name.endswith(".c"):
                    env_vars |= set(re.findall(r'"(AWS_[A-Z0-9_]+)"', read("src", part, name)))
        for v in sorted(env_vars):
            self.assertRegex(text, r"Ev " + v + r"\b", v)


if __name__ == "__main__":
    unittest.main(verbosity=2)
