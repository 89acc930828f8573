"""The sandbox's seccomp filter: the program's answers for both architectures, read by a small
classic-BPF interpreter, and the kernel itself enforcing it on a real process."""

from __future__ import annotations

import errno
import platform
import re
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from apps.validation import seccomp
from tests.support.services import unavailable

EPERM = seccomp.RET_ERRNO | errno.EPERM
ENOSYS = seccomp.RET_ERRNO | errno.ENOSYS
I386 = 0x40000003
PROGRAM = seccomp.program()


def answer(nr: int, arch: int, arg0: int = 0) -> int:
    """Run the program on one ``struct seccomp_data`` as the kernel would."""
    data = struct.pack("=iIQ6Q", nr, arch, 0, arg0, 0, 0, 0, 0, 0)
    program = [struct.unpack("=HBBI", PROGRAM[at : at + 8]) for at in range(0, len(PROGRAM), 8)]
    accumulator, pc = 0, 0
    while True:
        code, true, false, k = program[pc]
        if code == 0x20:  # ld [k]
            accumulator = struct.unpack_from("=I", data, k)[0]
            pc += 1
        elif code == 0x06:  # ret k
            return k
        else:
            taken = {
                0x15: accumulator == k,
                0x35: accumulator >= k,
                0x45: bool(accumulator & k),
            }[code]
            pc += 1 + (true if taken else false)


@pytest.mark.parametrize("arch", seccomp.ARCHES, ids=["x86_64", "aarch64"])
def test_every_refused_system_call_answers_eperm(arch):
    for name in seccomp.refused():
        assert answer(arch.numbers[name], arch.audit) == EPERM, name


@pytest.mark.parametrize("arch", seccomp.ARCHES, ids=["x86_64", "aarch64"])
def test_ordinary_system_calls_are_allowed(arch):
    refused = {arch.numbers[name] for name in seccomp.refused()}
    special = {arch.numbers[name] for name in seccomp.SPECIAL}
    for nr in set(range(460)) - refused - special:
        assert answer(nr, arch.audit) == seccomp.RET_ALLOW, nr


@pytest.mark.parametrize("arch", seccomp.ARCHES, ids=["x86_64", "aarch64"])
def test_clone_may_fork_and_start_threads_but_not_open_namespaces(arch):
    clone = arch.numbers["clone"]
    fork = 0x01200011  # SIGCHLD | CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID, as glibc forks
    thread = 0x003D0F00  # what pthread_create passes
    assert answer(clone, arch.audit, fork) == seccomp.RET_ALLOW
    assert answer(clone, arch.audit, thread) == seccomp.RET_ALLOW
    for flag in (0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000):
        assert answer(clone, arch.audit, fork | flag) == EPERM, hex(flag)
    assert answer(clone, arch.audit, fork | 0x40000000) == EPERM
    assert answer(arch.numbers["clone3"], arch.audit) == ENOSYS  # glibc falls back to clone


@pytest.mark.parametrize("arch", seccomp.ARCHES, ids=["x86_64", "aarch64"])
def test_personality_may_be_read_not_changed(arch):
    personality = arch.numbers["personality"]
    assert answer(personality, arch.audit, 0xFFFFFFFF) == seccomp.RET_ALLOW
    assert answer(personality, arch.audit, 0) == seccomp.RET_ALLOW
    assert answer(personality, arch.audit, 0x0040000) == EPERM  # ADDR_NO_RANDOMIZE


def test_other_architectures_and_the_x32_abi_are_killed():
    assert answer(0, I386) == seccomp.RET_KILL_PROCESS  # int 0x80 on x86-64
    assert answer(0, 0xC0000028) == seccomp.RET_KILL_PROCESS  # arm
    assert answer(0x40000000 | 0, seccomp.AUDIT_ARCH_X86_64) == seccomp.RET_KILL_PROCESS


def test_both_architectures_name_the_same_system_calls():
    assert set(seccomp.X86_64.numbers) == set(seccomp.AARCH64.numbers)
    assert len(seccomp.program()) % 8 == 0 and len(seccomp.program()) // 8 < 4096


def _numbers_in(header: Path) -> dict[str, int]:
    text = header.read_text()
    return {
        name: int(number)
        for name, number in re.findall(r"#define __NR(?:3264)?_(\w+)\s+(\d+)", text)
    }


@pytest.mark.parametrize(
    ("arch", "header"),
    [
        (seccomp.X86_64, "/usr/include/x86_64-linux-gnu/asm/unistd_64.h"),
        (seccomp.AARCH64, "/usr/include/asm-generic/unistd.h"),
    ],
    ids=["x86_64", "aarch64"],
)
def test_the_numbers_are_the_kernel_headers(arch, header):
    if not Path(header).exists():
        unavailable(f"this test reads the kernel headers ({header}, package linux-libc-dev)")
    numbers = _numbers_in(Path(header))
    assert {name: numbers[name] for name in arch.numbers} == arch.numbers


KERNEL_CHECK = """
import ctypes, struct, sys
program = sys.stdin.buffer.read()
libc = ctypes.CDLL(None, use_errno=True)
buffer = ctypes.create_string_buffer(program, len(program))
fprog = struct.pack("=HxxxxxxQ", len(program) // 8, ctypes.addressof(buffer))
assert libc.prctl(38, 1, 0, 0, 0) == 0  # PR_SET_NO_NEW_PRIVS
if libc.prctl(22, 2, ctypes.c_char_p(fprog), 0, 0) != 0:  # PR_SET_SECCOMP, MODE_FILTER
    raise SystemExit("the kernel refused the filter: errno %d" % ctypes.get_errno())
found = {}
for name, args in (("unshare", (0x10000000,)), ("ptrace", (0, 0, 0, 0)), ("getpid", ())):
    ctypes.set_errno(0)
    result = getattr(libc, name)(*args)
    found[name] = ctypes.get_errno() if result == -1 else "allowed"
print(sorted(found.items()))
"""


def test_the_kernel_accepts_and_enforces_the_filter():
    if platform.machine() not in ("x86_64", "aarch64"):
        unavailable(f"the filter is written for x86-64 and aarch64, not {platform.machine()}")
    result = subprocess.run(
        [sys.executable, "-I", "-c", KERNEL_CHECK],
        input=seccomp.program(),
        capture_output=True,
        check=False,
        env={},
    )
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.decode().strip() == (
        "[('getpid', 'allowed'), ('ptrace', 1), ('unshare', 1)]"
    )
