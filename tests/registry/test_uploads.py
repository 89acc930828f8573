"""Recognising uploads by content, without opening artifacts."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from django.conf import settings

from apps.registry import uploads
from apps.registry.api.parsers import unsafe_file_name
from apps.registry.uploads import UploadRefused


def test_skops_is_a_zip_and_pickle_needs_permission(files):
    assert uploads.artifact_format("m.skops", files.skops[:8], pickle_allowed=False) == "skops"
    with pytest.raises(UploadRefused, match="opening a pickle can run any code"):
        uploads.artifact_format("m.pkl", files.pickle[:8], pickle_allowed=False)
    assert uploads.artifact_format("m.pkl", files.pickle[:8], pickle_allowed=True) == "pickle"
    assert uploads.artifact_format("m.joblib", files.pickle[:8], pickle_allowed=True) == "joblib"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("model.skops", b"\x80\x04\x95pickle", "does not contain what its extension says"),
        ("model.pkl", b"PK\x03\x04zip", "does not contain what its extension says"),
        ("model.onnx", b"PK\x03\x04", "must be a .skops"),
        ("model", b"PK\x03\x04", "must be a .skops"),
    ],
)
def test_content_that_does_not_match_the_extension_is_refused(name, content, message):
    with pytest.raises(UploadRefused, match=message):
        uploads.artifact_format(name, content, pickle_allowed=True)


def test_sizes(files):
    with pytest.raises(UploadRefused, match="empty"):
        uploads.check_size("artifact", 0, 100)
    with pytest.raises(UploadRefused, match="the limit is 1 MB") as refused:
        uploads.check_size("artifact", 3 * 2**20, 2**20)
    assert refused.value.status == 413


def test_csv_and_parquet_holdouts_are_read(files):
    csv = uploads.inspect_dataset("holdout", "h.csv", io.BytesIO(files.holdout_csv))
    parquet = uploads.inspect_dataset("holdout", "h.parquet", io.BytesIO(files.holdout_parquet))
    assert csv.columns == parquet.columns == ["income", "debt", "default"]
    assert (csv.rows, parquet.rows) == (100, 200)
    assert csv.dtypes["default"] == "int64"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("h.csv", b"PAR1....", "is Parquet: its content does not match .csv"),
        ("h.parquet", b"a,b\n1,2\n", "is not Parquet"),
        ("h.csv", b"a,b\n\x00\x01\x02", "is binary"),
        ("h.csv", b"a,b\n", "has a header but no rows"),
        ("h.csv", b"", "not a readable CSV"),
        ("h.csv", b'a,b\n1,"2\n', "not a readable CSV"),
        ("h.csv", "a,b\n1,é\n".encode("latin-1"), "not UTF-8"),
        ("h.csv", b"a,a\n1,2\n", "repeated column names"),
        ("h.xlsx", b"PK\x03\x04", "Upload a .csv or .parquet"),
    ],
)
def test_unusable_data_sets_are_refused_with_a_reason(name, content, message):
    with pytest.raises(UploadRefused, match=message):
        uploads.inspect_dataset("holdout", name, io.BytesIO(content))


def large_csv(rows: int) -> bytes:
    frame = pd.DataFrame({f"x{i}": np.arange(rows, dtype=float) / 7 for i in range(8)})
    frame["segment"] = np.where(np.arange(rows) % 3, "retail", "sme")
    frame["default"] = np.arange(rows) % 2
    return frame.to_csv(index=False).encode()


# Run in a fresh process: its memory high-water mark (VmHWM, which exec resets) is the figure.
MEASURE = """
import sys
from pathlib import Path

from apps.registry import uploads

def high_water():
    status = Path("/proc/self/status").read_text().splitlines()
    return next(int(s.split()[1]) * 1024 for s in status if s.startswith("VmHWM:"))

import pandas  # loaded before the baseline, as the settings are in a web process
from django.conf import settings
settings.PORTAL_MAX_LINE_BYTES

uploads._CSV_CHUNK_BYTES = 256 * 2**10
with open(sys.argv[1], "rb") as stream:
    stream.read(2**20)
    stream.seek(0)
    base = high_water()
    info = uploads.inspect_dataset("holdout", "h.csv", stream)
print(info.rows, high_water() - base)
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads Linux's /proc")
def test_a_large_csv_is_read_in_chunks_of_bounded_memory(tmp_path):
    path = tmp_path / "holdout.csv"
    path.write_bytes(large_csv(300_000))  # 41 MB; read whole, it took 94 MB more memory
    rows, added = _measured(path)
    print(f"{path.stat().st_size / 2**20:.0f} MB CSV: {added / 2**20:.1f} MB more memory")
    assert rows == 300_000
    assert added < path.stat().st_size / 3


def _measured(path: Path) -> tuple[int, int]:
    result = subprocess.run(
        [sys.executable, "-c", MEASURE, str(path)],
        capture_output=True,
        text=True,
        check=True,
        cwd=settings.BASE_DIR,
    )
    rows, added = map(int, result.stdout.split())
    return rows, added


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads Linux's /proc")
def test_long_lines_after_short_ones_are_read_in_chunks_of_bounded_memory(tmp_path):
    # The first 64 KB have short lines; chunks sized on them took the whole file at once.
    path = tmp_path / "holdout.csv"
    short = "".join(f"{i},a\n" for i in range(20_000))
    long = "".join(f"{i},{'b' * 500_000}\n" for i in range(120))
    path.write_text("n,text\n" + short + long)
    rows, added = _measured(path)
    print(f"{path.stat().st_size / 2**20:.0f} MB CSV: {added / 2**20:.1f} MB more memory")
    assert rows == 20_120
    assert added < path.stat().st_size / 4  # read whole: 2 bytes of memory per byte of file


def test_a_csv_wider_than_the_column_limit_is_refused_with_a_message():
    header = ",".join(f"c{i}" for i in range(20_001))
    content = f"{header}\n{','.join('1' * 20_001)}\n".encode()
    with pytest.raises(
        UploadRefused, match="has 20,001 columns; the portal accepts at most 10,000"
    ):
        uploads.inspect_dataset("holdout", "wide.csv", io.BytesIO(content))


def test_a_header_longer_than_64_kb_is_read_whole_not_misread_as_repeated_names(settings):
    settings.PORTAL_MAX_COLUMNS = 50_000
    # 94 KB of header, every name different: cut at 64 KB, the last read "c10", a second time.
    names = [f"c{i}" for i in range(15_000)]
    content = f"{','.join(names)}\n{','.join('1' * len(names))}\n".encode()
    info = uploads.inspect_dataset("holdout", "wide.csv", io.BytesIO(content))
    assert info.columns == names and info.rows == 1


def test_a_line_longer_than_the_limit_is_refused_with_a_message():
    content = b"a,b\n1," + b"x" * (2 * 2**20) + b"\n2,y\n"
    with pytest.raises(UploadRefused, match="has a line longer than 1,024 KB"):
        uploads.inspect_dataset("holdout", "long.csv", io.BytesIO(content))
    single_line = b"a," * (1_500_000)
    with pytest.raises(UploadRefused, match="has a line longer than"):
        uploads.inspect_dataset("holdout", "one-line.csv", io.BytesIO(single_line))


def test_a_parquet_file_wider_than_the_column_limit_is_refused(settings):
    settings.PORTAL_MAX_COLUMNS = 5
    stream = io.BytesIO()
    pd.DataFrame({f"c{i}": [1.0] for i in range(6)}).to_parquet(stream)
    with pytest.raises(UploadRefused, match="has 6 columns; the portal accepts at most 5"):
        uploads.inspect_dataset("holdout", "wide.parquet", io.BytesIO(stream.getvalue()))


def test_a_csv_read_in_chunks_has_the_types_and_refusals_of_one_read_whole(monkeypatch):
    monkeypatch.setattr(uploads, "_CSV_CHUNK_BYTES", 4096)  # a few hundred rows at a time
    rows = [f"{i},{i},{i},x" for i in range(2_500)] + ["1.5,x,,y"]
    content = ("a,b,c,d\n" + "\n".join(rows) + "\n").encode()
    info = uploads.inspect_dataset("holdout", "h.csv", io.BytesIO(content))
    assert info.rows == 2_501
    assert info.dtypes == {"a": "float64", "b": "str", "c": "float64", "d": "str"}
    assert info.dtypes == {
        c: str(t) for c, t in pd.read_csv(io.BytesIO(content), low_memory=False).dtypes.items()
    }
    broken = content + b'1,2,3,"unclosed\n'
    with pytest.raises(UploadRefused, match="not a readable CSV"):
        uploads.inspect_dataset("holdout", "h.csv", io.BytesIO(broken))


def test_the_target_must_be_a_holdout_column(files):
    info = uploads.inspect_dataset("holdout", "h.csv", io.BytesIO(files.holdout_csv))
    uploads.check_target(info, "default")
    with pytest.raises(UploadRefused, match=r"no column named “label”\. Its columns are: income"):
        uploads.check_target(info, "label")


def test_the_reference_must_hold_the_holdout_features(files):
    holdout = uploads.inspect_dataset("holdout", "h.csv", io.BytesIO(files.holdout_csv))
    partial = uploads.inspect_dataset("reference", "r.csv", io.BytesIO(b"income\n1\n"))
    with pytest.raises(UploadRefused, match="lacks feature columns of the holdout: debt"):
        uploads.check_reference(holdout, partial, "default")


@pytest.mark.parametrize(
    "name",
    [
        "../model.skops",
        "..\\model.skops",
        "/etc/passwd",
        "%2e%2e%2fmodel.skops",
        "%252e%252e%252fmodel.skops",
        "a\x00b.skops",
        "..",
        "C:\\model.skops",
        "model\n.skops",
    ],
)
def test_file_names_with_paths_or_control_characters_are_unsafe(name):
    assert unsafe_file_name(name)


@pytest.mark.parametrize(
    "name",
    [
        "model.skops",
        "loan model v2.skops",
        "m;x.skops",
        "m#1.skops",
        "modèle.skops",
        "%2e%2e.skops.csv".replace("%2e%2e", "v1"),
    ],
)
def test_plain_file_names_are_fine(name):
    assert not unsafe_file_name(name)
