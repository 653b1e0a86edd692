"""Supply chain and configuration (checklist item 29): every dependency is pinned to one version
that satisfies pyproject.toml and installed only as a file whose hash was locked, and the tests
run on exactly those versions; secrets come from the environment (or files it names), never
from the repository; DEBUG is off unless asked for.

Checking the pins against known vulnerabilities needs the internet (``make audit-deps`` runs
pip-audit against PyPI's advisory data): a CI step where the internet is reachable, not part
of the offline ``make test``."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from django.conf import settings
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(settings.PROJECT_DIR)
CONSTRAINTS = ROOT / "requirements" / "constraints.txt"
HASHES = ROOT / "requirements" / "hashes.txt"


def pins() -> dict[str, str]:
    pinned: dict[str, str] = {}
    for line in CONSTRAINTS.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, exact = line.partition("==")
        assert sep, f"not pinned to one version: {line!r}"
        pinned[canonicalize_name(name)] = exact
    return pinned


def declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    requirements = [Requirement(r) for r in project["dependencies"]]
    for extra in project.get("optional-dependencies", {}).values():
        requirements += [Requirement(r) for r in extra]
    return requirements


def test_every_dependency_is_pinned_to_a_version_pyproject_allows():
    pinned = pins()
    missing, outside = [], []
    for requirement in declared():
        name = canonicalize_name(requirement.name)
        if name not in pinned:
            missing.append(requirement.name)
        elif not requirement.specifier.contains(pinned[name], prereleases=True):
            outside.append(f"{requirement.name}=={pinned[name]} (pyproject: {requirement})")
    assert not missing, f"Not in requirements/constraints.txt (run `make lock`): {missing}"
    assert not outside, f"Pins outside pyproject.toml's ranges: {outside}"


def test_the_tests_run_on_the_pinned_versions():
    drifted = []
    for name, exact in pins().items():
        try:
            installed = version(name)
        except PackageNotFoundError:
            drifted.append(f"{name}: pinned {exact}, not installed")
            continue
        if installed != exact:
            drifted.append(f"{name}: pinned {exact}, installed {installed}")
    assert not drifted, "Run `make install` (or `make lock` if you meant it):\n" + "\n".join(
        drifted
    )


def hashed_pins() -> dict[str, tuple[str, list[str]]]:
    """requirements/hashes.txt: name -> (version, its SHA-256 hashes)."""
    text = HASHES.read_text(encoding="utf-8").replace("\\\n", " ")
    found: dict[str, tuple[str, list[str]]] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        requirement, *options = line.split()
        name, sep, exact = requirement.partition("==")
        assert sep, f"not pinned to one version: {requirement!r}"
        found[canonicalize_name(name)] = (
            exact,
            [o.removeprefix("--hash=sha256:") for o in options if o.startswith("--hash=")],
        )
    return found


def test_every_pin_carries_the_hash_of_each_file_it_may_install():
    hashed = hashed_pins()
    assert {name: exact for name, (exact, _) in hashed.items()} == pins(), (
        "requirements/hashes.txt is out of step with constraints.txt: run `make lock`"
    )
    for name, (_, sums) in hashed.items():
        assert sums, f"{name} has no hash"
        assert all(re.fullmatch(r"[0-9a-f]{64}", s) for s in sums), f"{name}: not SHA-256"


def test_every_install_is_hash_checked_and_pulls_in_nothing_unpinned():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    installs = re.findall(r"pip install [^\n]*", makefile)
    packages = [line for line in installs if "pip-audit" not in line]
    assert packages
    for line in packages:
        hash_checked = "--require-hashes" in line and "-r requirements/hashes.txt" in line
        assert hash_checked or "--no-deps" in line, line
        assert "--upgrade" not in line, line
    assert any("--require-hashes" in line for line in packages)
    assert "pip check" in makefile
    assert re.search(r"^audit-deps:", makefile, re.MULTILINE)
    assert "pip-audit" in makefile
    assert "requirements/hashes.py" in makefile  # `make lock` writes the hashes too


def test_no_secret_is_kept_in_the_repository():
    git = shutil.which("git")
    assert git is not None
    tracked = subprocess.run(  # noqa: S603 - git, fixed arguments
        [git, "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert not [path for path in tracked if path.startswith("var/")]
    assert "var/" in (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
    source = (ROOT / "saferoom" / "settings.py").read_text(encoding="utf-8")
    for name in ("SECRET_KEY", "LINKAGE_KEY", "AUDIT_KEY"):
        assignment = re.search(rf"^{name} = (.+)$", source, re.MULTILINE)
        assert assignment is not None
        assert assignment.group(1).startswith("_secret("), f"{name} must come from _secret()"


def test_debug_is_off_unless_asked_for(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAFEROOM_")}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.update(
        {
            "SAFEROOM_VAR_DIR": str(tmp_path),
            "SAFEROOM_SECRET_KEY": "s" * 60,
            "SAFEROOM_LINKAGE_KEY": "l" * 40,
            "SAFEROOM_AUDIT_KEY": "a" * 40,
            "SAFEROOM_FIELD_KEYS": "Xn2r5u8x_A-DGKbPeShVmYq3t6w9z_C-FHMcQfTjWnZ=",
            "SAFEROOM_ALLOWED_HOSTS": "saferoom.example.org",
        }
    )
    result = subprocess.run(
        [sys.executable, "-c", "import saferoom.settings as s; print(s.DEBUG)"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["False"]
