"""The Debian package, built with dpkg-buildpackage and checked the way a
Debian system uses it.

One run, in order (each step needs the one before, so it is one test):
build the package from the working tree; lintian (no errors, no warnings);
install it with dpkg into a clean Debian 12 tree (debootstrap from the
Debian mirror; a chroot, which shares the host's loopback); inside that
tree: `sesrelay --version`, the sesrelay system user, /var/lib/sesrelay,
the unit installed but not enabled; `sesrelay check` against the AWS
emulator on loopback with the locally modified conffile; an upgrade to a
rebuilt package (higher version, changed conffile) that keeps the local
conffile; remove (conffile stays, program goes) and purge (everything the
package made goes).

The debootstrap tree is cached under the build directory
(debian-chroot/pristine); each run works on a fresh copy of it, so only
the first run downloads anything. Needs root (chroot, dpkg on a tree).
"""

import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from aws_emulator import Emulator  # noqa: E402
from sesrelay_daemon import main  # noqa: E402
from testdeps import missing, require_aws_modules, require_tool  # noqa: E402

ROOT = os.environ.get("PROJECT_ROOT") or os.path.abspath(
    os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("BUILD_ROOT") or os.path.join(ROOT, "build")
MIRROR = os.environ.get("SESRELAY_DEBIAN_MIRROR", "http://deb.debian.org/debian")
SUITE = "bookworm"
CONF = "/etc/sesrelay/sesrelay.conf"
UPGRADE_VERSION_SUFFIX = "+upgradetest1"


def run(cmd, **kw):
    kw.setdefault("timeout", 900)
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)
    return p.returncode, p.stdout


def must(cmd, **kw):
    rc, out = run(cmd, **kw)
    if rc != 0:
        raise AssertionError("%s exited %d:\n%s" % (" ".join(cmd), rc, out[-4000:]))
    return out


def copy_source(dest):
    """The working tree as git sees it (tracked and new files, nothing
    ignored such as build directories); outside a git checkout, the tree
    without build directories."""
    rc, files = run(["git", "-C", ROOT, "ls-files", "-co", "--exclude-standard", "-z"])
    if rc != 0:
        shutil.copytree(ROOT, dest, symlinks=True, ignore=lambda d, names: [
            n for n in names if d == ROOT and (n.startswith("build") or n == ".git")])
        return
    os.makedirs(dest)
    for rel in filter(None, files.split("\0")):
        src = os.path.join(ROOT, rel)
        if not os.path.lexists(src):
            continue        # deleted in the working tree, not yet in git
        dst = os.path.join(dest, rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copy2(src, dst, follow_symlinks=False)


def build_package(workdir, version=None, conffile_note=None):
    """dpkg-buildpackage -us -uc -b on a copy of the tree; returns the
    path of the .deb (and of the .changes). `version` prepends a
    changelog entry; `conffile_note` changes the packaged conffile."""
    src = os.path.join(workdir, "sesrelay")
    copy_source(src)
    if version:
        path = os.path.join(src, "debian", "changelog")
        with open(path) as f:
            old = f.read()
        with open(path, "w") as f:
            f.write("sesrelay (%s) unstable; urgency=medium\n\n"
                    "  * Rebuilt to test upgrades.\n\n"
                    " -- sesrelay maintainers <sesrelay@example.org>  "
                    "Sun, 06 Dec 2026 03:00:00 +0000\n\n" % version + old)
    if conffile_note:
        with open(os.path.join(src, "config", "sesrelay.conf"), "a") as f:
            f.write("# %s\n" % conffile_note)
    must(["dpkg-buildpackage", "-us", "-uc", "-b"], cwd=src)
    debs = [f for f in os.listdir(workdir) if re.match(r"sesrelay_.*\.deb$", f)]
    changes = [f for f in os.listdir(workdir) if f.endswith(".changes")]
    assert len(debs) == 1 and len(changes) == 1, os.listdir(workdir)
    return os.path.join(workdir, debs[0]), os.path.join(workdir, changes[0])


def deb_field(deb, field):
    return must(["dpkg-deb", "-f", deb, field]).strip()


def depends_names(deb):
    """Package names of the .deb's Depends (alternatives: the first)."""
    names = []
    for dep in deb_field(deb, "Depends").split(","):
        names.append(re.split(r"[\s(|:]", dep.strip())[0])
    return sorted(set(n for n in names if n))


def pristine_tree(include):
    """A cached minimal Debian 12 tree with the package's dependencies;
    rebuilt when the dependency list changes."""
    base = os.path.join(BUILD, "debian-chroot")
    tree = os.path.join(base, "pristine")
    stamp = os.path.join(base, "pristine.stamp")
    want = "%s %s %s\n" % (SUITE, MIRROR, ",".join(include))
    if os.path.exists(stamp) and open(stamp).read() == want:
        return tree
    shutil.rmtree(tree, ignore_errors=True)
    if os.path.exists(stamp):
        os.unlink(stamp)
    os.makedirs(base, exist_ok=True)
    must(["debootstrap", "--variant=minbase", "--include=" + ",".join(include),
          SUITE, tree, MIRROR], timeout=1800)
    # Nothing in the tree may start services (policy-rc.d, as in
    # containers), and apt in it is never used by this test.
    with open(os.path.join(tree, "usr/sbin/policy-rc.d"), "w") as f:
        f.write("#!/bin/sh\nexit 101\n")
    os.chmod(os.path.join(tree, "usr/sbin/policy-rc.d"), 0o755)
    with open(stamp, "w") as f:
        f.write(want)
    return tree


class Chroot:
    """A throw-away copy of the pristine tree."""

    def __init__(self, pristine, workdir):
        self.root = os.path.join(workdir, "root")
        must(["cp", "-a", pristine, self.root])

    def path(self, p):
        return os.path.join(self.root, p.lstrip("/"))

    def run(self, *cmd, env=None, stdin=None):
        e = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C.UTF-8",
             "DEBIAN_FRONTEND": "noninteractive"}
        e.update(env or {})
        p = subprocess.run(["chroot", self.root] + list(cmd), env=e, input=stdin,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=600)
        return p.returncode, p.stdout

    def must(self, *cmd, env=None):
        rc, out = self.run(*cmd, env=env)
        if rc != 0:
            raise AssertionError("in the chroot, %s exited %d:\n%s" % (" ".join(cmd), rc, out))
        return out

    def dpkg_install(self, deb, *opts):
        name = os.path.basename(deb)
        shutil.copy(deb, self.path("/tmp/" + name))
        return self.must("dpkg", *opts, "-i", "/tmp/" + name)

    def status(self):
        rc, out = self.run("dpkg-query", "-W", "-f", "${Status} ${Version}", "sesrelay")
        return out.strip() if rc == 0 else None

    def read(self, p):
        with open(self.path(p)) as f:
            return f.read()


class DebianPackageTest(unittest.TestCase):
    def setUp(self):
        if os.geteuid() != 0:
            missing("root (chroot and dpkg on a Debian tree)", "run the tests as root")
        for tool, pkg in (("dpkg-buildpackage", "dpkg-dev"), ("dh", "debhelper"),
                          ("fakeroot", "fakeroot"), ("lintian", "lintian"),
                          ("debootstrap", "debootstrap"), ("chroot", "coreutils")):
            require_tool(tool, "apt-get install " + pkg)
        require_aws_modules()
        self.work = tempfile.mkdtemp(prefix="sesrelay-deb-", dir=BUILD)
        self.addCleanup(shutil.rmtree, self.work, ignore_errors=True)

    def test_build_lint_install_check_upgrade_remove_purge(self):
        # -- build and lint -------------------------------------------
        os.makedirs(os.path.join(self.work, "v1"))
        deb, changes = build_package(os.path.join(self.work, "v1"))
        version = deb_field(deb, "Version")
        self.assertRegex(os.path.basename(deb),
                         r"^sesrelay_%s_%s\.deb$" % (re.escape(version),
                                                     must(["dpkg", "--print-architecture"]).strip()))
        contents = must(["dpkg-deb", "-c", deb])
        for p in ("./usr/sbin/sesrelay", "./usr/sbin/sesrelay-sendmail -> sesrelay",
                  "./usr/share/man/man8/sesrelay.8.gz", "./usr/share/man/man5/sesrelay.conf.5.gz",
                  "./lib/systemd/system/sesrelay.service", "./etc/sesrelay/sesrelay.conf",
                  "./var/lib/sesrelay/", "./usr/share/sesrelay/sesrelay-rules.yml",
                  "./usr/share/sesrelay/sesrelay.json"):
            self.assertIn(p, contents)
        self.assertNotRegex(contents, r"\./usr/sbin/sendmail\b")
        # The unit as installed (with the package's drop-in) keeps the
        # hardening of deploy/systemd and runs as the static user.
        if shutil.which("systemd-analyze"):
            tree = os.path.join(self.work, "deb-tree")
            must(["dpkg-deb", "-x", deb, tree])
            _, sec = run(["systemd-analyze", "security", "--offline=yes", "--root=" + tree,
                          "sesrelay.service"])
            m = re.search(r"Overall exposure level for sesrelay.service: ([\d.]+)", sec)
            self.assertIsNotNone(m, sec)
            self.assertLessEqual(float(m.group(1)), 2.0, sec)
            self.assertIn("static non-root user", sec)
        _, lint = run(["lintian", "--fail-on", "none", "-E", "--pedantic", changes])
        tags = [l for l in lint.splitlines() if re.match(r"^[EW]: ", l)]
        self.assertEqual(tags, [], lint)

        # -- install into a clean Debian 12 tree ----------------------
        tree = pristine_tree(depends_names(deb))
        ch = Chroot(tree, self.work)
        self.assertIsNone(ch.status())
        ch.dpkg_install(deb)
        self.assertEqual(ch.status(), "install ok installed %s" % version)
        out = ch.must("sesrelay", "--version")
        self.assertRegex(out, r"^sesrelay \d+\.\d+\.\d+")
        self.assertTrue(version.startswith(out.split()[1]), (version, out))
        user = ch.must("getent", "passwd", "sesrelay").strip().split(":")
        self.assertLess(int(user[2]), 1000, user)                       # a system user
        self.assertEqual(user[5], "/var/lib/sesrelay")
        st = os.stat(ch.path("/var/lib/sesrelay"))
        self.assertEqual(st.st_mode & 0o777, 0o750)
        self.assertEqual(ch.must("stat", "-c", "%U:%G", "/var/lib/sesrelay").strip(),
                         "sesrelay:sesrelay")
        # The unit is installed, not enabled (no configuration yet) and
        # runs as the package's static user.
        self.assertTrue(os.path.exists(ch.path("/lib/systemd/system/sesrelay.service")))
        self.assertFalse(os.path.lexists(
            ch.path("/etc/systemd/system/multi-user.target.wants/sesrelay.service")))
        self.assertIn("DynamicUser=no",
                      ch.read("/lib/systemd/system/sesrelay.service.d/package.conf"))
        # Everything in the shipped configuration is commented out.
        packaged = ch.read(CONF)
        self.assertEqual([l for l in packaged.splitlines() if l.strip() and not
                          l.lstrip().startswith("#")], [])
        self.assertIn(CONF, ch.read("/var/lib/dpkg/info/sesrelay.conffiles"))
        # The sendmail entry point answers as sendmail does (no
        # recipients: EX_USAGE) and leaves /usr/sbin/sendmail alone.
        rc, out = ch.run("sesrelay-sendmail", "--server", "127.0.0.1:9", "-i")
        self.assertEqual(rc, 64, out)
        self.assertFalse(os.path.lexists(ch.path("/usr/sbin/sendmail")))

        # -- sesrelay check inside, against the emulator on loopback --
        emu = Emulator(strict=True)
        emu.start()
        self.addCleanup(emu.stop)
        local = packaged + (
            "\n# local settings\nrole_arn %s\nexternal_id %s\nregion %s\n"
            "source_arn arn:aws:ses:%s:%s:identity/%s\n"
            % (emu.role_arn, emu.external_id, emu.region, emu.region, emu.shared_account,
               emu.ses_identity))
        with open(ch.path(CONF), "w") as f:
            f.write(local)
        env = {k: v for k, v in emu.daemon_env(base={}).items()}
        emu.clear_messages()
        rc, out = ch.run("sesrelay", "--config", CONF, "check", "--send-test",
                         "someone@example.org", env=env)
        self.assertEqual(rc, 0, out)
        self.assertRegex(out, r"assumed account\s+%s" % emu.shared_account)
        self.assertRegex(out, r"result\s+ok")
        self.assertEqual(len(emu.messages(account=emu.shared_account)), 1)

        # -- upgrade: a rebuilt package, its conffile changed too ------
        v2 = version + UPGRADE_VERSION_SUFFIX
        os.makedirs(os.path.join(self.work, "v2"))
        deb2, _ = build_package(os.path.join(self.work, "v2"), version=v2,
                                conffile_note="changed in the upgrade test")
        self.assertEqual(deb_field(deb2, "Version"), v2)
        must(["dpkg", "--compare-versions", v2, "gt", version])
        # Both sides changed the conffile: dpkg keeps the local one
        # (--force-confold answers the question a person would get) and
        # leaves the packaged one beside it.
        ch.dpkg_install(deb2, "--force-confold")
        self.assertEqual(ch.status(), "install ok installed %s" % v2)
        self.assertEqual(ch.read(CONF), local)
        self.assertIn("changed in the upgrade test", ch.read(CONF + ".dpkg-dist"))
        rc, out = ch.run("sesrelay", "--config", CONF, "check", env=env)
        self.assertEqual(rc, 0, out)
        self.assertEqual(ch.must("stat", "-c", "%U:%G %a", "/var/lib/sesrelay").strip(),
                         "sesrelay:sesrelay 750")

        # -- remove: the program goes, the configuration stays ---------
        with open(ch.path("/var/lib/sesrelay/queued.eml"), "w") as f:
            f.write("state the relay made\n")
        ch.must("dpkg", "-r", "sesrelay")
        self.assertEqual(ch.status(), "deinstall ok config-files %s" % v2)
        for p in ("/usr/sbin/sesrelay", "/usr/sbin/sesrelay-sendmail",
                  "/lib/systemd/system/sesrelay.service", "/usr/share/sesrelay",
                  "/usr/share/man/man8/sesrelay.8.gz"):
            self.assertFalse(os.path.lexists(ch.path(p)), p)
        self.assertEqual(ch.read(CONF), local)
        self.assertTrue(os.path.exists(ch.path("/var/lib/sesrelay/queued.eml")))

        # -- purge: nothing of the package is left ---------------------
        ch.must("dpkg", "-P", "sesrelay")
        self.assertIsNone(ch.status())
        for p in (CONF, CONF + ".dpkg-dist", "/etc/sesrelay", "/var/lib/sesrelay"):
            self.assertFalse(os.path.lexists(ch.path(p)), p)
        # The system user stays: files elsewhere may still carry its id.
        ch.must("getent", "passwd", "sesrelay")


if __name__ == "__main__":
    main()
