"""The report, built from a recorded fixture of real harness output."""

import shutil
import struct
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from benchmarks import report

FIXTURE = Path(__file__).parent / "fixtures" / "harness"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    started = time.perf_counter()
    written = report.build(FIXTURE, out)
    return out, written, time.perf_counter() - started


def test_report_builds_quickly_with_every_figure(built):
    out, written, seconds = built
    assert seconds < 30
    assert (out / "README.md").exists() and (out / "report.html").exists()
    for name, _ in report.FIGURES:
        path = out / "figures" / name
        assert path in written
        width, height = png_size(path)
        assert width >= 600 and height >= 300 and path.stat().st_size > 10_000


def test_findings_come_from_the_numbers(built):
    out, _, _ = built
    text = (out / "README.md").read_text()
    c = pd.read_csv(FIXTURE / "comparison.csv")
    fashion = c[c.dataset == "fashion_mnist"].set_index("method").test_score
    best = fashion.idxmax()
    assert f"{best} reached the best median test accuracy, {fashion[best]:.4f}" in text
    # Two trials diverged in the fixture; the report counts them and says why.
    assert "2 trials failed (random: 2): 2× “diverged: non-finite training loss”" in text
    # One seed: no p-values, and a plain statement instead.
    assert "not statistically established" in text and "not tested (< 5 seeds)" in text
    assert "python -m benchmarks.compare --out /tmp/cal-standard --fresh" in text


def test_statistics_match_scipy_on_a_known_case():
    seeds = range(6)
    rng = np.random.default_rng(0)
    a = 0.88 + rng.normal(0, 0.002, 6)
    b = a - np.array([0.004, 0.003, 0.006, 0.001, 0.005, 0.002])
    comparison = pd.DataFrame(
        [
            {
                "dataset": "d",
                "method": "random",
                "seed": s,
                "metric": "accuracy",
                "test_score": a[s],
                "val_score": a[s],
                "wall_time_s": 1.0,
                "n_evaluations": 3,
                "epochs_trained": 9,
                "n_failed_trials": 0,
            }
            for s in seeds
        ]
        + [
            {
                "dataset": "d",
                "method": "grid",
                "seed": s,
                "metric": "accuracy",
                "test_score": b[s],
                "val_score": b[s],
                "wall_time_s": 2.0,
                "n_evaluations": 3,
                "epochs_trained": 9,
                "n_failed_trials": 0,
            }
            for s in seeds
        ]
    )
    table = report.summary_table(report.Records(comparison, pd.DataFrame())).set_index("method")
    assert table.loc["random", "is_best"] and table.loc["random", "mean_rank"] == 1.0
    assert table.loc["grid", "wilcoxon_p_vs_best"] == pytest.approx(stats.wilcoxon(b, a).pvalue)
    assert table.loc["grid", "test_median"] == pytest.approx(np.median(b))
    assert table.loc["grid", "test_q25"] == pytest.approx(np.quantile(b, 0.25))


def test_values_are_escaped_in_html(tmp_path):
    source = tmp_path / "in"
    source.mkdir()
    c = pd.read_csv(FIXTURE / "comparison.csv")
    c.loc[0, "best_params"] = '{"optimizer": "<script>alert(1)</script>"}'
    c.loc[0, "command"] = "python -m benchmarks.compare <b>bold</b>"
    c.to_csv(source / "comparison.csv", index=False)
    t = pd.read_csv(FIXTURE / "trials.csv")
    t.loc[t.status != "ok", "error"] = "<img src=x onerror=alert(2)>"
    t.to_csv(source / "trials.csv", index=False)
    report.build(source, tmp_path / "out")
    page = (tmp_path / "out" / "report.html").read_text()
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<b>bold</b>" not in page and "&lt;b&gt;bold&lt;/b&gt;" in page
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(2)&gt;" in page
    assert "<script" not in page and "http" not in page  # no JavaScript, nothing fetched from elsewhere


def test_single_seed_single_method_and_all_failed(tmp_path):
    source = tmp_path / "in"
    source.mkdir()
    c = pd.read_csv(FIXTURE / "comparison.csv")
    t = pd.read_csv(FIXTURE / "trials.csv")
    c = c[(c.method == "random")]
    t = t[t.method == "random"].copy()
    t.loc[t.dataset == "california_housing", ["status", "val_score"]] = ["failed", np.nan]
    c.to_csv(source / "comparison.csv", index=False)
    t.to_csv(source / "trials.csv", index=False)
    report.build(source, tmp_path / "out")
    text = (tmp_path / "out" / "README.md").read_text()
    assert "trials failed (random:" in text


def test_missing_records_are_a_one_line_error(tmp_path, capsys):
    assert report.main(["--in", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "no harness record" in err and len(err.strip().splitlines()) == 1


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (make test installs it as root)")
def test_html_renders_in_headless_chromium(built, tmp_path):
    out, _, _ = built
    page = (out / "report.html").read_text()
    # The report needs no JavaScript; this probe, added to a copy only, reads what the browser laid out.
    probe = (
        "<script>window.onload=()=>{const s=[...document.images].map(i=>i.naturalWidth+'x'+i.naturalHeight);"
        "document.body.setAttribute('data-images',s.join(','));}</script>"
    )
    copy = tmp_path / "probe.html"
    copy.write_text(page.replace("</body>", probe + "</body>"))
    done = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--virtual-time-budget=5000",
            "--dump-dom",
            copy.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "<h1>Which search method should I use?" in done.stdout
    sizes = done.stdout.split('data-images="')[1].split('"')[0].split(",")
    assert len(sizes) == len(report.FIGURES)
    assert all(int(w) > 0 and int(h) > 0 for w, h in (s.split("x") for s in sizes))
