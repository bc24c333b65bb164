"""Upgrade keeps the device UUIDs and the edited config; purge leaves nothing of the package behind."""

from __future__ import annotations

import hashlib
import json
import subprocess

import pytest

from tests.packaging.conftest import install

pytestmark = pytest.mark.packaging

CONF = "/etc/sane-wsd-gateway.conf"
STATE = "/var/lib/sane-wsd-gateway"


OLD_UDEV_RULE = "/lib/udev/rules.d/70-sane-wsd-gateway.rules"
OLD_UDEV_RULE_TEXT = ('ACTION=="add|remove", SUBSYSTEM=="usb", ENV{DEVTYPE}=="usb_device", '
                      'ENV{libsane_matched}=="yes", '
                      'RUN+="/bin/systemctl --no-block try-restart sane-wsd-gateway.service"\n')


def older_release_with_the_udev_rule(deb, tmp_path):
    """The package as version <version>~old with the udev rule releases before issue 13 had (it restarted the
    service on every scanner plug): the release an upgrade comes from."""
    tree = tmp_path / "older"
    subprocess.run(["dpkg-deb", "-R", str(deb), str(tree)], check=True, timeout=60)
    rule = tree / OLD_UDEV_RULE.lstrip("/")
    rule.parent.mkdir(parents=True, exist_ok=True)
    rule.write_text(OLD_UDEV_RULE_TEXT)
    md5sums = tree / "DEBIAN" / "md5sums"
    digest = hashlib.md5(rule.read_bytes()).hexdigest()
    md5sums.write_text(md5sums.read_text() + f"{digest}  {OLD_UDEV_RULE.lstrip('/')}\n")
    control = tree / "DEBIAN" / "control"
    text = control.read_text()
    version = next(line.split(": ", 1)[1] for line in text.splitlines() if line.startswith("Version: "))
    control.write_text(text.replace(f"Version: {version}\n", f"Version: {version}~old\n"))
    older = tmp_path / f"sane-wsd-gateway_{version}~old.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "-b", str(tree), str(older)], check=True,
                   capture_output=True, timeout=120)
    return older


def newer_version_of(deb, tmp_path):
    """The same package as version <version>+1: a real upgrade, with every maintainer script."""
    tree = tmp_path / "newer"
    subprocess.run(["dpkg-deb", "-R", str(deb), str(tree)], check=True, timeout=60)
    control = tree / "DEBIAN" / "control"
    text = control.read_text()
    version = next(line.split(": ", 1)[1] for line in text.splitlines() if line.startswith("Version: "))
    control.write_text(text.replace(f"Version: {version}\n", f"Version: {version}+1\n"))
    newer = tmp_path / f"sane-wsd-gateway_{version}+1.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "-b", str(tree), str(newer)], check=True,
                   capture_output=True, timeout=120)
    return newer, f"{version}+1"


def test_upgrade_keeps_device_uuids_and_the_edited_config(deb, debian_root, tmp_path):
    install(debian_root, deb)
    debian_root.run(["runuser", "-u", "sane-wsd-gateway", "--", "sane-wsd-gateway", "list", "--backend", "test",
                     "--test-device", "yes"], timeout=120)
    uuids = json.loads(debian_root.file(f"{STATE}/devices.json").read_text())
    assert uuids
    edited = debian_root.file(CONF).read_text().replace("location =\n", "location = Office\n")
    debian_root.file(CONF).write_text(edited)

    newer, version = newer_version_of(deb, tmp_path)
    debian_root.file(f"/tmp/{newer.name}").write_bytes(newer.read_bytes())
    debian_root.run(["dpkg", "-i", f"/tmp/{newer.name}"], timeout=300)

    assert debian_root.run(["dpkg-query", "-W", "-f=${Version}", "sane-wsd-gateway"]).stdout == version
    assert json.loads(debian_root.file(f"{STATE}/devices.json").read_text()) == uuids
    assert debian_root.file(CONF).read_text() == edited
    assert debian_root.run(["getent", "passwd", "sane-wsd-gateway"], check=False).returncode == 0


def test_upgrade_removes_the_old_udev_rule_that_restarted_the_service(deb, debian_root, tmp_path):
    """dpkg deletes a file the new version no longer ships (it is no conffile, even if edited), and udevd
    reloads its rules by itself before its next event: no maintainer script has anything to do."""
    older = older_release_with_the_udev_rule(deb, tmp_path)
    install(debian_root, older)
    assert debian_root.file(OLD_UDEV_RULE).read_text() == OLD_UDEV_RULE_TEXT
    with debian_root.file(OLD_UDEV_RULE).open("a") as edited:
        edited.write("# edited by the admin\n")

    debian_root.file(f"/tmp/{deb.name}").write_bytes(deb.read_bytes())
    debian_root.run(["dpkg", "-i", f"/tmp/{deb.name}"], timeout=300)

    assert not debian_root.file(OLD_UDEV_RULE).exists()
    assert debian_root.run(["dpkg", "-S", OLD_UDEV_RULE], check=False).returncode != 0
    assert debian_root.run(["dpkg-query", "-W", "-f=${Status}", "sane-wsd-gateway"]).stdout == \
        "install ok installed"


def test_purge_removes_the_user_the_state_the_config_and_every_file(deb, debian_root):
    install(debian_root, deb)
    files = [f for f in debian_root.run(["dpkg-query", "-L", "sane-wsd-gateway"]).stdout.split()
             if debian_root.file(f).is_file()]
    debian_root.run(["runuser", "-u", "sane-wsd-gateway", "--", "sane-wsd-gateway", "list", "--backend", "test",
                     "--test-device", "yes"], timeout=120)
    assert debian_root.file(f"{STATE}/devices.json").exists()
    debian_root.file(CONF).write_text(debian_root.file(CONF).read_text() + "\n# edited\n")

    debian_root.apt_get("purge", "sane-wsd-gateway")

    assert debian_root.run(["getent", "passwd", "sane-wsd-gateway"], check=False).returncode == 2
    assert debian_root.run(["getent", "group", "sane-wsd-gateway"], check=False).returncode == 2
    assert not debian_root.file(STATE).exists()
    assert not debian_root.file(CONF).exists()
    left = [f for f in files if debian_root.file(f).exists()]
    assert left == []
    assert debian_root.run(["dpkg-query", "-W", "sane-wsd-gateway"], check=False).returncode != 0
