"""Running the installed `mlops-portal` command against a live portal, as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

CLI = str(Path(sys.executable).parent / "mlops-portal")

Run = Callable[..., subprocess.CompletedProcess[str]]


def cli_for(url: str, config: Path) -> Run:
    """run(*args, stdin="") runs the command with its login stored in ``config``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    env.update(PORTAL_CONFIG=str(config), PORTAL_URL=url)

    def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [CLI, *args],
            input=stdin,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    return run
