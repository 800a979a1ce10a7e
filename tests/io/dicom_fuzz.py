"""Byte- and tag-level mutation of small perfusion DICOM studies, for fuzzing the reader.

The contract under test: whatever the bytes, ``read_study`` either returns a Study or raises
:class:`qperfusion.errors.QPerfusionError` — never any other exception. Cases are built in
memory (no disk) so thousands run in seconds; each case is reproducible from its seed.
"""

from __future__ import annotations

import contextlib
import struct
import warnings
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from qperfusion.errors import QPerfusionError
from qperfusion.io._dicom_study import StudyInput, build_study

from .dicom_factory import SeriesSpec, classic_series, enhanced_series, to_bytes

# (group, element) of tags worth corrupting: timing, geometry, matrix, pixel description
TARGET_TAGS: tuple[tuple[int, int], ...] = (
    (0x0008, 0x0032), (0x0018, 0x1060), (0x0020, 0x0013), (0x0020, 0x0032),
    (0x0020, 0x0037), (0x0028, 0x0030), (0x0028, 0x0010), (0x0028, 0x0011),
    (0x0018, 0x1314), (0x0018, 0x0081), (0x0018, 0x0080), (0x0018, 0x0082),
    (0x0018, 0x0087), (0x0020, 0x000E), (0x0020, 0x000D), (0x0028, 0x0100),
    (0x0028, 0x0103), (0x0028, 0x0002), (0x0028, 0x0008), (0x0028, 0x1053),
    (0x0018, 0x0086), (0x0018, 0x1310), (0x0018, 0x1062), (0x0018, 0x0010),
    (0x0008, 0x103E), (0x0018, 0x0024), (0x0018, 0x9074), (0x0020, 0x9128),
    (0x7FE0, 0x0010), (0x0010, 0x0020), (0x0002, 0x0010),
)

_JUNK = (b"", b"abc", b"1e400", b"-5", b"0", b"NaN", b"99999999", b"\\\\\\", b" ",
         b"1.2.3", b"-0.0\\x", b"\xff\xfe", b"12:34:56.7")


@dataclass
class FuzzBase:
    """The unmutated inputs: a classic 2-slice study (+ AIF) and one enhanced file."""

    classic: list[tuple[str, bytes]]
    enhanced: list[tuple[str, bytes]]


def make_base() -> FuzzBase:
    myo = SeriesSpec(description="perf stress", n_slices=2, n_frames=3, rows=4, cols=4,
                     pd_frames=1)
    aif = SeriesSpec(description="AIF stress", n_slices=1, n_frames=3, rows=2, cols=2,
                     echoes_ms=(0.8, 2.0), study_uid=myo.study_uid, series_number=11,
                     pd_frames=1)
    classic = [(f"m{n}", to_bytes(ds)) for n, ds in classic_series(myo)]
    classic += [(f"a{n}", to_bytes(ds)) for n, ds in classic_series(aif)]
    enh = SeriesSpec(description="perf rest", n_slices=1, n_frames=4, rows=4, cols=4)
    return FuzzBase(classic, [("mf.dcm", to_bytes(enhanced_series(enh)))])


def _find(data: bytes, tag: tuple[int, int]) -> int:
    return data.find(struct.pack("<HH", *tag))


def _mutate_tag(data: bytes, rng: np.random.Generator) -> bytes:
    tag = TARGET_TAGS[rng.integers(len(TARGET_TAGS))]
    at = _find(data, tag)
    if at < 0 or at + 8 > len(data):
        return data
    vr = data[at + 4:at + 6]
    long_form = vr in (b"OB", b"OW", b"SQ", b"UN", b"UT", b"OF", b"OD", b"UC", b"UR")
    head = 12 if long_form else 8
    if at + head > len(data):
        return data
    length = (struct.unpack("<I", data[at + 8:at + 12])[0] if long_form
              else struct.unpack("<H", data[at + 6:at + 8])[0])
    kind = rng.integers(4)
    if kind == 0:  # same length, junk content (structure intact)
        junk = _JUNK[rng.integers(len(_JUNK))]
        value = (junk * (length // max(len(junk), 1) + 1))[:length] if junk else b" " * length
        return data[:at + head] + value + data[at + head + length:]
    if kind == 1:  # new value with a matching length field (short form only)
        if long_form:
            return data
        value = _JUNK[rng.integers(len(_JUNK))]
        value += b" " * (len(value) % 2)
        return (data[:at + 6] + struct.pack("<H", len(value)) + value
                + data[at + head + length:])
    if kind == 2:  # wrong length field
        bad = int(rng.integers(0, 2**16 if not long_form else 2**32))
        field = struct.pack("<I" if long_form else "<H", bad)
        return data[:at + head - len(field)] + field + data[at + head:]
    return data[:at] + data[at + head + length:]  # remove the element


def _mutate_bytes(data: bytes, rng: np.random.Generator) -> bytes:
    if not data:  # an earlier mutation of this case already emptied the file
        return rng.bytes(int(rng.integers(1, 16)))
    kind = rng.integers(3)
    if kind == 0:
        arr = bytearray(data)
        for pos in rng.integers(0, len(arr), size=int(rng.integers(1, 9))):
            arr[pos] ^= int(rng.integers(1, 256))
        return bytes(arr)
    if kind == 1:
        return data[: int(rng.integers(0, len(data)))]
    pos = int(rng.integers(0, len(data)))
    return data[:pos] + rng.bytes(int(rng.integers(1, 16))) + data[pos:]


def mutate(base: FuzzBase, seed: int) -> list[tuple[str, bytes]]:
    """One fuzz case: the base files with 1–3 mutations (tags, bytes, files dropped/added)."""
    rng = np.random.default_rng(seed)
    files = list(base.enhanced if rng.random() < 0.25 else base.classic)
    for _ in range(int(rng.integers(1, 4))):
        op = rng.integers(10)
        i = int(rng.integers(len(files)))
        name, data = files[i]
        if op < 5:
            files[i] = (name, _mutate_tag(data, rng))
        elif op < 8:
            files[i] = (name, _mutate_bytes(data, rng))
        elif op == 8 and len(files) > 1:
            files.pop(i)
        else:
            files.append((f"junk{i}", rng.bytes(int(rng.integers(0, 400)))))
    return files


def run_case(files: list[tuple[str, bytes]]) -> str:
    """``"ok"`` or the QPerfusionError class name; any other exception propagates."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a stray warning is a bug too
        try:
            build_study([StudyInput(sources=list(files), label="fuzz")])
        except QPerfusionError as exc:
            return type(exc).__name__
    return "ok"


@contextlib.contextmanager
def memoised_parsing() -> Iterator[None]:
    """Parse each distinct byte string once: most files of a case are unmutated.

    ``dcmread`` is deterministic and the reader never modifies what it reads, so reusing
    the parsed dataset of identical bytes changes no outcome, only the time.
    """
    from qperfusion.io import _pixels, _scan

    original = _scan.read_header
    cache: dict[tuple[bool, int, int], object] = {}

    def cached(source, *, pixels=False):  # type: ignore[no-untyped-def]
        if not isinstance(source, tuple):
            return original(source, pixels=pixels)
        key = (pixels, len(source[1]), hash(source[1]))
        if key not in cache:
            try:
                cache[key] = original(source, pixels=pixels)
            except Exception as exc:
                cache[key] = exc
        hit = cache[key]
        if isinstance(hit, Exception):
            raise hit
        return hit

    _scan.read_header = cached  # type: ignore[assignment]
    _pixels.read_header = cached  # type: ignore[assignment]
    try:
        yield
    finally:
        _scan.read_header = original  # type: ignore[assignment]
        _pixels.read_header = original  # type: ignore[assignment]


def fuzz(n_cases: int, *, seed0: int = 0, memoise: bool = True) -> Counter[str]:
    """Run ``n_cases`` cases (seeds ``seed0 …``); returns how each ended.

    Raises
    ------
    AssertionError
        On the first case that raises anything but QPerfusionError, naming its seed.
    """
    base = make_base()
    outcome: Counter[str] = Counter()
    with memoised_parsing() if memoise else contextlib.nullcontext():
        for seed in range(seed0, seed0 + n_cases):
            files = mutate(base, seed)
            try:
                outcome[run_case(files)] += 1
            except Exception as exc:
                raise AssertionError(
                    f"fuzz case seed={seed}: {type(exc).__name__}: {exc}") from exc
    return outcome
