"""Fuzzing: mutated DICOM bytes and tags never raise anything but QPerfusionError."""

from __future__ import annotations

from .dicom_fuzz import fuzz, make_base, run_case

N_CASES = 2000  # more in benchmarks/fuzz_reader.py


def test_unmutated_base_reads():
    base = make_base()
    assert run_case(base.classic) == "ok"
    assert run_case(base.enhanced) == "ok"


def test_fuzz_reader_raises_only_its_own_errors():
    outcome = fuzz(N_CASES, seed0=0)
    assert sum(outcome.values()) == N_CASES
    # both ends are exercised: some mutations are harmless, many must be refused
    assert outcome["ok"] > N_CASES // 20
    assert outcome["DicomInputError"] > N_CASES // 5
