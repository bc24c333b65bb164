"""The .deb builds from a fresh clone with one command on a bare Debian 12, holds what it should, and
lintian finds nothing."""

from __future__ import annotations

import gzip
import platform
import re
import subprocess

import pytest

from gateway import __version__
from tests.packaging.conftest import UNCOMMITTED

pytestmark = pytest.mark.packaging


def dpkg_deb(*args) -> str:
    return subprocess.run(["dpkg-deb", *args], check=True, capture_output=True, text=True, timeout=60).stdout


def test_build_deb_makes_one_package_named_for_the_version_and_architecture(deb):
    arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True, check=True,
                          timeout=30).stdout.strip()
    assert deb.name == f"sane-wsd-gateway_{__version__}_{arch}.deb"


def test_build_deb_on_a_bare_debian_installs_dpkg_dev_before_using_it(build):
    """README's Pi path: only git is installed, and ``sudo packaging/build-deb`` must do the rest."""
    assert build.result.stderr.splitlines()[0] == "build-deb: installing dpkg-dev"
    assert "command not found" not in build.result.stderr


def test_build_deb_run_by_a_user_names_what_to_install_and_stops(build):
    assert build.as_user.returncode == 1
    assert build.as_user.stderr.strip() == (
        "build-deb: needs dpkg-dev: as root, run: apt-get install --no-install-recommends dpkg-dev "
        "(or run this script as root)")


def test_build_deb_as_root_builds_the_committed_tree_of_a_users_clone(build, tmp_path):
    """git refuses a repository owned by someone else unless told it is safe: build-deb must still take
    HEAD with git, not the directory with its uncommitted edits (the fixture made one in README.rst)."""
    assert "build-deb: note: building HEAD; uncommitted changes are left out" in build.result.stderr
    subprocess.run(["dpkg-deb", "-x", str(build.deb), str(tmp_path)], check=True, timeout=60)
    readme = gzip.decompress((tmp_path / "usr/share/doc/sane-wsd-gateway/README.rst.gz").read_bytes()).decode()
    assert UNCOMMITTED not in readme


def test_lintian_reports_no_errors_and_no_warnings(build):
    result = subprocess.run(["lintian", "--fail-on", "error,warning", "--pedantic", "--display-info",
                             str(build.changes)], capture_output=True, text=True, timeout=600)
    complaints = [line for line in result.stdout.splitlines() if re.match(r"^[EW]: ", line)]
    assert result.returncode == 0 and not complaints, result.stdout + result.stderr


def test_package_holds_the_program_the_config_the_unit_the_man_page_and_the_firewall_profiles(deb):
    paths = {line.split()[-1].lstrip(".") for line in dpkg_deb("--contents", str(deb)).splitlines()}
    for path in ("/usr/bin/sane-wsd-gateway",
                 "/usr/lib/sane-wsd-gateway/gateway/cli.py",
                 "/etc/sane-wsd-gateway.conf",
                 "/lib/systemd/system/sane-wsd-gateway.service",
                 "/usr/share/man/man8/sane-wsd-gateway.8.gz",
                 "/usr/share/doc/sane-wsd-gateway/copyright",
                 "/usr/share/doc/sane-wsd-gateway/changelog.gz",
                 "/etc/ufw/applications.d/sane-wsd-gateway",
                 "/usr/lib/firewalld/services/sane-wsd-gateway.xml",
                 "/usr/lib/firewalld/services/sane-wsd-gateway-http.xml"):
        assert path in paths, path
    extensions = {p.rsplit("/", 1)[1].split(".")[0] for p in paths if p.endswith(".so")}
    assert extensions == {"_saneio", "_encoder"}


def test_package_has_no_udev_rule_the_gateway_follows_usb_itself(deb):
    """A rule that restarted the service on every plug cut every other scanner's job."""
    paths = {line.split()[-1].lstrip(".") for line in dpkg_deb("--contents", str(deb)).splitlines()}
    assert [p for p in paths if "/udev/" in p] == []


def test_python_code_is_private_to_the_package(deb):
    """The top-level package is called ``gateway``: not in the public dist-packages, where any program's
    ``import gateway`` would find it."""
    paths = {line.split()[-1].lstrip(".") for line in dpkg_deb("--contents", str(deb)).splitlines()}
    assert [p for p in paths if p.startswith("/usr/lib/python3")] == []
    assert all(p.startswith("/usr/lib/sane-wsd-gateway/") for p in paths if p.endswith((".py", ".so")))


def test_c_extensions_use_pythons_stable_abi(deb):
    """*.abi3.so: built once for Python 3.11's stable ABI, they load in every later Python 3."""
    paths = [line.split()[-1] for line in dpkg_deb("--contents", str(deb)).splitlines()]
    assert sorted(p.rsplit("/", 1)[1] for p in paths if p.endswith(".so")) == [
        "_encoder.abi3.so", "_saneio.abi3.so"]


def test_depends_on_python3_from_3_11_with_no_upper_bound(deb):
    """A Debian upgrade brings a newer python3: nothing may pin the one of the build."""
    depends = [d.strip() for d in dpkg_deb("--field", str(deb), "Depends").split(",")]
    pythons = [d for d in depends if re.match(r"python3(\.\d+)?(:any)?( |$)", d)]
    assert "python3 (>= 3.11~)" in pythons, depends
    assert not [d for d in pythons if "<<" in d or "<=" in d or "=" in d.replace(">=", "")], depends
    assert not [d for d in depends if re.match(r"python3\.\d+", d)], depends


def test_c_extensions_link_libsane_libjpeg_and_zlib(deb, tmp_path):
    subprocess.run(["dpkg-deb", "-x", str(deb), str(tmp_path)], check=True, timeout=60)
    needed = {}
    for so in tmp_path.rglob("*.so"):
        dynamic = subprocess.run(["readelf", "-d", str(so)], capture_output=True, text=True, check=True,
                                 timeout=30).stdout
        needed[so.name.split(".")[0]] = set(re.findall(r"Shared library: \[([^]]+)\]", dynamic))
    assert "libsane.so.1" in needed["_saneio"]
    assert {"libjpeg.so.62", "libz.so.1"} <= needed["_encoder"]


def test_depends_only_on_debian_packages(deb):
    depends = dpkg_deb("--field", str(deb), "Depends")
    names = {re.split(r"[ (:]", d.strip())[0] for d in depends.split(",")}
    for wanted in ("python3-twisted", "python3-lxml", "python3-sane", "python3-netifaces", "python3-txdbus",
                   "python3-pyudev", "libsane1", "libjpeg62-turbo", "zlib1g", "python3"):
        assert wanted in names, depends
    assert not any("pip" in n for n in names)
    recommends = {r.strip() for r in dpkg_deb("--field", str(deb), "Recommends").split(",")}
    assert recommends == {"avahi-daemon", "sane-utils"}
    assert dpkg_deb("--field", str(deb), "Suggests").strip() == "sane-airscan"


def test_config_and_firewall_profile_are_conffiles(deb, tmp_path):
    subprocess.run(["dpkg-deb", "-e", str(deb), str(tmp_path)], check=True, timeout=60)
    assert (tmp_path / "conffiles").read_text().split() == [
        "/etc/sane-wsd-gateway.conf", "/etc/ufw/applications.d/sane-wsd-gateway"]


def test_architecture_is_the_build_machines(deb):
    machine = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "armhf"}.get(platform.machine())
    if machine:
        assert dpkg_deb("--field", str(deb), "Architecture").strip() == machine
