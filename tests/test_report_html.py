"""report.html of a small bench renders in headless Chromium: the leaderboard is in the DOM and the page is not blank.

Needs Debian's ``chromium`` (``apt-get install -y chromium``; the test set-up installs it when missing). Without a
Chromium binary the browser tests skip on a developer's machine, and FAIL under CI (environment variable
``CI=true``), where a skipped rendering check would pass unseen.
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
MISSING = ("Chromium not found: install it with 'apt-get update && apt-get install -y chromium' "
           "(the test set-up does this)")


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def _require(binary: str | None) -> str:
    """``binary``, or a skip without one, except under CI, where its absence is a failure."""
    if binary is None:
        if _in_ci():
            pytest.fail(f"CI=true: {MISSING}")
        pytest.skip(MISSING)
    return binary


@pytest.fixture
def chromium() -> str:
    return _require(CHROMIUM)

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    ds = genlab.datasets.load("eight_gaussians", n_train=400, n_test=300, seed=0)
    out = tmp_path_factory.mktemp("bench") / "b"
    run_bench(ds, ["gmm", "kde"], 0.5, out, progress=False)
    return out / "report.html"


def _chromium(binary: str, tmp_path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / "profile"
    profile.mkdir(exist_ok=True)
    return subprocess.run([binary, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True, text=True,
                          timeout=120, check=False)


def test_self_contained(report):
    page = report.read_text(encoding="utf-8")
    assert '<table id="leaderboard">' in page
    assert not re.search(r"""(src|href)\s*=\s*["'](?!data:)""", page), "only data: URIs may be referenced"
    assert "<script" not in page and "http://" not in page and "https://" not in page and "@import" not in page
    assert page.count('src="data:image/png;base64,') >= 5  # data scatter, 2 model scatters, 2 density heatmaps


def test_dom_has_leaderboard(chromium, report, tmp_path):
    res = _chromium(chromium, tmp_path, "--dump-dom", report.as_uri())
    assert res.returncode == 0, res.stderr[-2000:]
    dom = res.stdout
    table = re.search(r'<table id="leaderboard">(.*?)</table>', dom, re.S)
    assert table, dom[:2000]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", table.group(1), re.S)
    assert len(rows) == 3  # header + gmm + kde
    assert any("gmm" in r for r in rows[1:]) and any("kde" in r for r in rows[1:]) and "★" in rows[1]


def test_screenshot_not_blank(chromium, report, tmp_path):
    from PIL import Image, ImageStat

    shot = tmp_path / "shot.png"
    res = _chromium(chromium, tmp_path, f"--screenshot={shot}", "--window-size=1200,900", report.as_uri())
    assert res.returncode == 0 and shot.is_file(), res.stderr[-2000:]
    img = Image.open(shot).convert("RGB")
    assert img.size == (1200, 900)
    assert max(ImageStat.Stat(img.convert("L")).var) > 100.0  # a blank page has variance 0
    assert len(img.getcolors(maxcolors=1 << 20) or []) > 200  # text, table shading and embedded plots



def test_missing_chromium_fails_under_ci(monkeypatch):
    """The guard itself: with no Chromium, CI=true makes the browser tests fail; elsewhere they skip."""
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        _require(None)
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="Chromium not found"):
        _require(None)
    assert _require("/usr/bin/chromium") == "/usr/bin/chromium"
