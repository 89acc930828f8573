"""The seccomp filter the sandboxed child runs under (bubblewrap's ``--seccomp FD``).

A classic BPF program, packed here with ``struct`` (no library): bubblewrap installs it just before
it starts the child, and the kernel runs it on every system call. It refuses with EPERM what a
model has no business doing and what the kernel's own attack surface is largest in: namespaces
(``unshare``, ``setns``, ``clone`` with a namespace flag), mounts, tracing other processes,
keyrings, eBPF, perf events, userfaultfd, io_uring, kernel modules and ``personality`` changes.
``clone3`` answers ENOSYS so that the C library falls back to ``clone``, whose flags the filter
can read. Any architecture but x86-64 and aarch64 (the i386 entry on x86-64 included), and the
x32 ABI, kill the process: their system call numbers are not the ones checked below.
"""

from __future__ import annotations

import errno
import struct
from dataclasses import dataclass

# <linux/filter.h>, <linux/bpf_common.h>
_LD_W_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS
_JEQ = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
_JGE = 0x35  # BPF_JMP | BPF_JGE | BPF_K
_JSET = 0x45  # BPF_JMP | BPF_JSET | BPF_K
_RET = 0x06  # BPF_RET | BPF_K

# <linux/seccomp.h>
RET_KILL_PROCESS = 0x80000000
RET_ERRNO = 0x00050000
RET_ALLOW = 0x7FFF0000

# struct seccomp_data: int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6] (the low
# half of an argument is at its offset on these little-endian machines).
_NR, _ARCH, _ARG0 = 0, 4, 16

AUDIT_ARCH_X86_64 = 0xC000003E
AUDIT_ARCH_AARCH64 = 0xC00000B7
X32_SYSCALL_BIT = 0x40000000

# CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID |
# CLONE_NEWNET
CLONE_NAMESPACES = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000
CLONE_NAMESPACES |= 0x40000000
# personality(): only asking (0xffffffff) and the default (PER_LINUX); ADDR_NO_RANDOMIZE is not.
PERSONALITY_ALLOWED = (0x0, 0xFFFFFFFF)

# Checked by their arguments, or answered ENOSYS; every other system call named below is refused.
SPECIAL = ("clone", "clone3", "personality")


@dataclass(frozen=True)
class Arch:
    audit: int
    numbers: dict[str, int]


# Numbers from <asm/unistd_64.h> (x86-64) and <asm-generic/unistd.h> (aarch64).
X86_64 = Arch(
    AUDIT_ARCH_X86_64,
    {
        "ptrace": 101, "process_vm_readv": 310, "process_vm_writev": 311, "pidfd_getfd": 438,
        "unshare": 272, "setns": 308, "mount": 165, "umount2": 166, "pivot_root": 155,
        "chroot": 161, "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431,
        "fsmount": 432, "fspick": 433, "mount_setattr": 442, "open_by_handle_at": 304,
        "name_to_handle_at": 303, "keyctl": 250, "add_key": 248, "request_key": 249, "bpf": 321,
        "perf_event_open": 298, "userfaultfd": 323, "io_uring_setup": 425,
        "io_uring_enter": 426, "io_uring_register": 427, "kexec_load": 246,
        "kexec_file_load": 320, "init_module": 175, "finit_module": 313, "delete_module": 176,
        "swapon": 167, "swapoff": 168, "reboot": 169, "acct": 163, "quotactl": 179,
        "quotactl_fd": 443, "syslog": 103, "vhangup": 153, "lookup_dcookie": 212,
        "settimeofday": 164, "clock_settime": 227, "adjtimex": 159, "clock_adjtime": 305,
        "clone": 56, "clone3": 435, "personality": 135,
    },
)  # fmt: skip
AARCH64 = Arch(
    AUDIT_ARCH_AARCH64,
    {
        "ptrace": 117, "process_vm_readv": 270, "process_vm_writev": 271, "pidfd_getfd": 438,
        "unshare": 97, "setns": 268, "mount": 40, "umount2": 39, "pivot_root": 41, "chroot": 51,
        "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432,
        "fspick": 433, "mount_setattr": 442, "open_by_handle_at": 265, "name_to_handle_at": 264,
        "keyctl": 219, "add_key": 217, "request_key": 218, "bpf": 280, "perf_event_open": 241,
        "userfaultfd": 282, "io_uring_setup": 425, "io_uring_enter": 426,
        "io_uring_register": 427, "kexec_load": 104, "kexec_file_load": 294, "init_module": 105,
        "finit_module": 273, "delete_module": 106, "swapon": 224, "swapoff": 225, "reboot": 142,
        "acct": 89, "quotactl": 60, "quotactl_fd": 443, "syslog": 116, "vhangup": 58,
        "lookup_dcookie": 18, "settimeofday": 170, "clock_settime": 112, "adjtimex": 171,
        "clock_adjtime": 266, "clone": 220, "clone3": 435, "personality": 92,
    },
)  # fmt: skip
ARCHES = (X86_64, AARCH64)


def refused() -> list[str]:
    """The system calls refused outright (the same names on every architecture)."""
    return [name for name in X86_64.numbers if name not in SPECIAL]


# One instruction: (code, jump-if-true label, jump-if-false label, k). Labels are resolved to
# the relative offsets classic BPF wants (forward only, at most 255).
_Op = tuple[int, str | None, str | None, int]


def _arch_block(arch: Arch, prefix: str) -> list[_Op | str]:
    """The checks for one architecture; every path through it ends in a return."""
    nr = arch.numbers
    eperm, enosys, kill = f"{prefix}eperm", f"{prefix}enosys", "kill"
    block: list[_Op | str] = [(_LD_W_ABS, None, None, _NR)]
    if arch is X86_64:
        block.append((_JGE, kill, None, X32_SYSCALL_BIT))
    block += [(_JEQ, eperm, None, nr[name]) for name in refused()]
    block += [
        (_JEQ, f"{prefix}clone", None, nr["clone"]),
        (_JEQ, enosys, None, nr["clone3"]),
        (_JEQ, f"{prefix}personality", None, nr["personality"]),
        (_RET, None, None, RET_ALLOW),
        f"{prefix}clone",
        (_LD_W_ABS, None, None, _ARG0),
        (_JSET, eperm, None, CLONE_NAMESPACES),
        (_RET, None, None, RET_ALLOW),
        f"{prefix}personality",
        (_LD_W_ABS, None, None, _ARG0),
        *[(_JEQ, f"{prefix}allow", None, value) for value in PERSONALITY_ALLOWED],
        (_RET, None, None, RET_ERRNO | errno.EPERM),
        f"{prefix}allow",
        (_RET, None, None, RET_ALLOW),
        eperm,
        (_RET, None, None, RET_ERRNO | errno.EPERM),
        enosys,
        (_RET, None, None, RET_ERRNO | errno.ENOSYS),
    ]
    return block


def _assemble(source: list[_Op | str]) -> bytes:
    labels: dict[str, int] = {}
    ops: list[_Op] = []
    for item in source:
        if isinstance(item, str):
            labels[item] = len(ops)
        else:
            ops.append(item)

    def offset(at: int, label: str | None) -> int:
        if label is None:
            return 0
        jump = labels[label] - at - 1
        if not 0 <= jump <= 255:
            raise ValueError(f"seccomp jump to {label} out of range ({jump})")
        return jump

    return b"".join(
        struct.pack("=HBBI", code, offset(at, true), offset(at, false), k)
        for at, (code, true, false, k) in enumerate(ops)
    )


def program() -> bytes:
    """The filter as bubblewrap reads it: an array of ``struct sock_filter``."""
    source: list[_Op | str] = [(_LD_W_ABS, None, None, _ARCH)]
    for arch in ARCHES:
        name = f"{arch.audit:x}-"
        source += [(_JEQ, f"{name}start", None, arch.audit)]
    source += [(_RET, None, None, RET_KILL_PROCESS)]
    for arch in ARCHES:
        name = f"{arch.audit:x}-"
        source += [f"{name}start", *_arch_block(arch, name)]
    source += ["kill", (_RET, None, None, RET_KILL_PROCESS)]  # jumps go forward only
    return _assemble(source)
