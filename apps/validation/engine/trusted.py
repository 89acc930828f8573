"""Opening model files without trusting them.

`.skops` files are opened with an explicit allowlist of types (skops refuses anything else), after
checking the archive's member count and sizes so that a zip bomb is refused before it is inflated.
Pickle formats are opened only by the sandbox's conversion stage, whose output is itself checked
this way.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

# scikit-learn's compiled tree and neighbour structures: plain data, not callables. skops trusts
# its own defaults (builtins, numpy, scipy, scikit-learn estimators) besides these.
EXTRA_TRUSTED_TYPES = (
    "sklearn.tree._tree.Tree",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.neighbors._kd_tree.KDTree",
    "sklearn.neighbors._ball_tree.BallTree",
    "sklearn.metrics._dist_metrics.EuclideanDistance64",
    "numpy.dtype",
)


class UnsafeModel(Exception):
    """The file is not something the portal will open; the message says why."""


def check_archive(
    path: Path, *, max_members: int, max_total_bytes: int, max_ratio: int = 200
) -> None:
    """Refuse archives that would inflate beyond the limits (checked from the directory only)."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise UnsafeModel(f"The artifact is not a valid .skops (zip) file: {exc}") from None
    if len(members) > max_members:
        raise UnsafeModel(
            f"The artifact holds {len(members)} files; at most {max_members} are accepted."
        )
    total = sum(m.file_size for m in members)
    if total > max_total_bytes:
        raise UnsafeModel(
            f"The artifact would inflate to {total / 2**20:.0f} MB; at most "
            f"{max_total_bytes / 2**20:.0f} MB are accepted."
        )
    for member in members:
        if member.file_size > 2**20 and member.file_size > max_ratio * max(member.compress_size, 1):
            ratio = member.file_size // max(member.compress_size, 1)
            raise UnsafeModel(
                f"The artifact member {member.filename!r} is compressed {ratio}:1, "
                "which looks like a zip bomb."
            )


def trusted_types(extra: list[str] | tuple[str, ...] = ()) -> list[str]:
    return [*EXTRA_TRUSTED_TYPES, *extra]


def load_skops(path: Path, *, extra_trusted: list[str] | tuple[str, ...] = ()) -> Any:
    """Load a .skops file, refusing any type outside the allowlist, with the types named."""
    import skops.io

    allowed = trusted_types(extra_trusted)
    untrusted = [t for t in skops.io.get_untrusted_types(file=path) if t not in allowed]
    if untrusted:
        raise UnsafeModel(
            "The model contains types the portal does not trust: "
            + ", ".join(sorted(untrusted))
            + ". Use standard scikit-learn components, or ask an administrator to add these "
            "types to PORTAL_SKOPS_TRUSTED_TYPES after reviewing them."
        )
    return skops.io.load(path, trusted=allowed)


def load_untrusted(path: Path, file_format: str) -> Any:
    """Open a pickle or joblib file. Only ever called inside the sandbox's conversion stage."""
    if file_format == "joblib":
        import joblib

        return joblib.load(path)
    if file_format == "pickle":
        import pickle

        with open(path, "rb") as handle:
            return pickle.load(handle)  # noqa: S301 - sandboxed on purpose
    raise UnsafeModel(f"Unknown artifact format {file_format!r}.")


def dump_skops(estimator: Any, path: Path) -> None:
    import skops.io

    skops.io.dump(estimator, path)
