"""The command-line client installs alone: its own small distribution, Python 3.9 and requests.

A data scientist installs it on a laptop or in a CI image; pulling the portal's twenty pinned
dependencies (Django, scikit-learn, pandas, ...) for a REST client would be absurd, and the
portal itself refuses Python 3.12.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

from django.conf import settings

from tests.support.services import unavailable

CLI = Path(settings.BASE_DIR) / "cli"


def run(*args: str | Path, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, check=False, **kwargs
    )


def test_the_client_needs_nothing_newer_than_python_3_9():
    vermin = Path(sys.executable).parent / "vermin"
    checked = run(vermin, "--no-tips", "--violations", "--target=3.9-", CLI / "src")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "Minimum required versions: 3." in checked.stdout


def copy_of_the_client(tmp_path: Path) -> Path:
    """pip builds a local folder in place: build from a copy, not in the checkout."""
    copy = tmp_path / "cli"
    shutil.copytree(CLI, copy, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    return copy


def test_the_clients_wheel_depends_on_requests_alone(tmp_path):
    source = copy_of_the_client(tmp_path)
    built = run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", tmp_path, source)
    assert built.returncode == 0, built.stderr[-2000:]
    [wheel] = tmp_path.glob("mlops_portal_cli-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        [metadata_name] = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        names = archive.namelist()
        metadata = Parser().parsestr(archive.read(metadata_name).decode())
    assert metadata.get_all("Requires-Dist") == ["requests<3,>=2.28"]
    assert metadata["Requires-Python"] == ">=3.9"
    # Only the client's own modules ship: no portal code, settings or templates.
    modules = {n for n in names if not n.startswith("mlops_portal_cli-")}
    assert modules == {
        "mlops_portal_cli/__init__.py",
        "mlops_portal_cli/__main__.py",
        "mlops_portal_cli/main.py",
    }


def test_pip_install_of_the_client_into_a_new_environment_brings_requests_and_nothing_else(
    tmp_path,
):
    venv = tmp_path / "venv"
    assert run(sys.executable, "-m", "venv", venv).returncode == 0
    python = venv / "bin" / "python"
    source = copy_of_the_client(tmp_path)
    installed = run(python, "-m", "pip", "install", "--quiet", source, timeout=540)
    if installed.returncode != 0 and "Could not find a version" in installed.stderr:
        unavailable(f"the package index cannot be reached: {installed.stderr[-300:]}")
    assert installed.returncode == 0, installed.stderr[-2000:]
    listed = run(python, "-m", "pip", "list", "--format=freeze", "--exclude-editable")
    names = {line.split("==")[0].lower() for line in listed.stdout.split()}
    assert names - {"pip", "setuptools"} == {
        "mlops-portal-cli",
        "requests",
        "certifi",
        "charset-normalizer",
        "idna",
        "urllib3",
    }
    helped = run(venv / "bin" / "mlops-portal", "--help")
    assert helped.returncode == 0 and "push" in helped.stdout
    assert run(python, "-c", "import django").returncode != 0
