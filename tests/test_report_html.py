"""report.html of a small bench renders in headless Chromium: the leaderboard is in the DOM and the page is not blank.

Needs Debian's ``chromium`` (``apt-get install -y chromium``; ``.ci/run`` installs it when missing). Without a
Chromium binary the tests skip with that reason on a developer's machine, and fail when ``CI=true`` (CI must run them).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

import genlab
from genlab.bench import run_bench

CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
IN_CI = os.environ.get("CI", "").lower() in ("true", "1")
needs_chromium = pytest.mark.skipif(CHROMIUM is None and not IN_CI, reason="Chromium not found: install it with "
                                    "'apt-get update && apt-get install -y chromium' (.ci/run does this)")

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    ds = genlab.datasets.load("eight_gaussians", n_train=400, n_test=300, seed=0)
    out = tmp_path_factory.mktemp("bench") / "b"
    run_bench(ds, ["gmm", "kde"], 0.5, out, progress=False)
    return out / "report.html"


def _chromium(tmp_path, *args: str) -> subprocess.CompletedProcess:
    if CHROMIUM is None:  # only reached with CI=true: CI must render the report, so a missing browser is a failure
        pytest.fail("CI=true but no Chromium binary (chromium, chromium-browser, google-chrome) is on PATH; "
                    ".ci/run installs Debian's chromium")
    profile = tmp_path / "profile"
    profile.mkdir(exist_ok=True)
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True, text=True,
                          timeout=120, check=False)


def test_self_contained(report):
    page = report.read_text(encoding="utf-8")
    assert '<table id="leaderboard">' in page
    assert not re.search(r"""(src|href)\s*=\s*["'](?!data:)""", page), "only data: URIs may be referenced"
    assert "<script" not in page and "http://" not in page and "https://" not in page and "@import" not in page
    assert page.count('src="data:image/png;base64,') >= 5  # data scatter, 2 model scatters, 2 density heatmaps


@needs_chromium
def test_dom_has_leaderboard(report, tmp_path):
    res = _chromium(tmp_path, "--dump-dom", report.as_uri())
    assert res.returncode == 0, res.stderr[-2000:]
    dom = res.stdout
    table = re.search(r'<table id="leaderboard">(.*?)</table>', dom, re.S)
    assert table, dom[:2000]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", table.group(1), re.S)
    assert len(rows) == 3  # header + gmm + kde
    assert any("gmm" in r for r in rows[1:]) and any("kde" in r for r in rows[1:]) and "★" in rows[1]


@needs_chromium
def test_screenshot_not_blank(report, tmp_path):
    from PIL import Image, ImageStat

    shot = tmp_path / "shot.png"
    res = _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1200,900", report.as_uri())
    assert res.returncode == 0 and shot.is_file(), res.stderr[-2000:]
    img = Image.open(shot).convert("RGB")
    assert img.size == (1200, 900)
    assert max(ImageStat.Stat(img.convert("L")).var) > 100.0  # a blank page has variance 0
    assert len(img.getcolors(maxcolors=1 << 20) or []) > 200  # text, table shading and embedded plots
