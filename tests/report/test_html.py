"""The HTML report: every section, embedded images, no external resources."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess

import pytest

from qperfusion.analysis import StateSummary, Thresholds, build_results, segment_statistics
from qperfusion.report import make_report_figures, render_report, save_figures, write_report

SECTIONS = ("summary", "bullseye", "segments", "maps", "curves", "qc", "methods")


@pytest.fixture(scope="module")
def rendered(study):
    results, images = study
    figs = make_report_figures(results, images)
    return results, figs, render_report(results, figs, study_info={"Field strength": "1.5 T"})


def test_figures_made(rendered):
    _, figs, _ = rendered
    assert set(figs) == {"bullseye", "maps", "curves_stress", "curves_rest"}


def test_every_section_and_embedded_images(rendered):
    _, figs, html = rendered
    assert html.startswith("<!DOCTYPE html>")
    for sec in SECTIONS:
        assert f'<section id="{sec}">' in html
    srcs = re.findall(r'<img src="([^"]+)"', html)
    assert len(srcs) == len(figs)
    for s in srcs:
        assert s.startswith("data:image/png;base64,")
        assert base64.b64decode(s.split(",", 1)[1])[:4] == b"\x89PNG"


def test_self_contained_no_links_or_scripts(rendered):
    _, _, html = rendered
    assert "http://" not in html
    assert "https://" not in html
    assert "<script" not in html
    assert "<link" not in html
    assert "href=" not in html
    assert "url(" not in html


def test_content_findings_qc_convention(rendered):
    results, _, html = rendered
    assert results["findings"]["ischemic_segments"] == [1, 2, 7, 8, 13, 14]
    assert "1 (basal anterior)" in html
    assert "14 (apical septal)" in html
    assert "The AIF peak is flat over 3 frames" in html  # QC flag in plain words
    assert "WARNING" in html.upper()
    # which flow the stress threshold uses: Fermi's blood flow reads on the NIH scale
    assert "blood flow Fb (MBF)" in html
    assert "borderline if stress MBF &lt;" in html
    assert "1.5" in html
    assert "Field strength" in html
    g = results["states"]["stress"]["global_mbf_ml_min_g"]
    assert f"{g:.2f}" in html



def test_single_state_report(tmp_path, rest_state):
    maps, labels, layers, im = rest_state
    res = build_results({"rest": StateSummary(segment_statistics(maps, labels, layers))},
                        model="btex", thresholds=Thresholds(flow="mbf"))
    figs = make_report_figures(res, {"rest": im})
    assert "MPR" not in [t.get_text() for ax in figs["bullseye"].axes for t in [ax.title]]
    p = write_report(tmp_path / "report.html", res, figs)
    html = p.read_text()
    assert "No stress state" in html
    assert "blood flow Fb (MBF)" in html
    assert "global MPR" not in html
    assert "abnormal criterion" not in html
    saved = save_figures(figs, tmp_path / "figures")
    assert all(p.stat().st_size > 1000 for p in saved.values())


@pytest.mark.slow
def test_report_screenshot_with_chromium(rendered, tmp_path):
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        pytest.skip("chromium not installed")
    html = rendered[2]
    page = tmp_path / "report.html"
    page.write_text(html)
    shot = tmp_path / "shot.png"
    subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu", "--window-size=1280,2000",
                    f"--screenshot={shot}", page.as_uri()], check=True, capture_output=True,
                   timeout=120)
    assert shot.stat().st_size > 50_000  # a rendered page, not a blank one
