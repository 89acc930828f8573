"""Keep the worker of ``make run`` running: ``python -m apps.jobs.supervise -- <command>``.

honcho (decisions §9) stops every process of the Procfile as soon as one exits, so a worker that
crashed (killed by the kernel for memory, a bug in a dependency) would take the web server and
beat down with it, and the person trying the portal would find nothing answering. This runs the
command, and when it exits on its own restarts it after a short, growing pause, saying so. A
SIGTERM or SIGINT (Ctrl-C, honcho stopping) goes to the command and ends the supervision.

Production does not use it: there a service manager or the container runtime restarts workers
(docker-compose.yml's ``restart: unless-stopped``).
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from types import FrameType

# A command that ran this long before exiting is restarted after the shortest pause again.
_STEADY_SECONDS = 60.0


def _describe(code: int) -> str:
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"


def supervise(command: Sequence[str], *, pause: float = 2.0, max_pause: float = 30.0) -> int:
    """Run ``command`` until told to stop; return its last exit code."""
    stopping = threading.Event()
    child: subprocess.Popen[bytes] | None = None

    def forward(signum: int, frame: FrameType | None) -> None:
        stopping.set()
        if child is not None and child.poll() is None:
            child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    delay = pause
    while True:
        started = time.monotonic()
        child = subprocess.Popen(command)  # noqa: S603 - the Procfile's own command line
        code = child.wait()
        if stopping.is_set():
            return code
        if time.monotonic() - started >= _STEADY_SECONDS:
            delay = pause
        print(
            f"supervise: {command[0]} exited with {_describe(code)}; restarting in {delay:g} s "
            "(the web server and beat keep running)",
            file=sys.stderr,
            flush=True,
        )
        if stopping.wait(delay):
            return code
        delay = min(delay * 2, max_pause)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m apps.jobs.supervise", description=__doc__)
    parser.add_argument("--pause", type=float, default=2.0, help="seconds before a restart")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the command to run")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("name the command to run after --")
    return supervise(command, pause=args.pause)


if __name__ == "__main__":
    raise SystemExit(main())
