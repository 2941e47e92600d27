"""The study report, built from ``results.csv`` and the study definition alone.

For every group: the hypothesis (from the definition), the result (computed here from the
runs), and the conclusion (the group's ``Expectation`` checked against the numbers), with
one figure per group; a two-factor group is drawn as a heatmap. Writes ``README.md`` and
``figures/*.png`` beside the results.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display on CI machines
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from benchmarks.common.provenance import TEXT_COLUMNS
from benchmarks.definitions import DATASETS
from benchmarks.report import VERSION_COLUMNS, md_table, save_figure
from benchmarks.report.render import other_reports
from benchmarks.study.studies import STUDY_VERSION, Context, Group, Study, Verdict
from tuning.errors import TuningError

SERIES = (("train", "#1b9e77"), ("val", "#d95f02"), ("test", "#7570b3"))
# The columns the header reads.
PROVENANCE = (
    "command",
    "study_version",
    "git_commit",
    "started_at",
    "finished_at",
    "scale",
    "seed",
    "n_train",
    "n_val",
    "n_test",
    "machine_cpus",
    "machine_cpu_model",
    "machine_ram_gb",
)


def load(study: Study, directory: Path) -> pd.DataFrame:
    path = directory / "results.csv"
    if not path.exists():
        raise TuningError(f"no study results at {str(path)!r}; run python -m benchmarks.study {study.name} first")
    try:
        frame = pd.read_csv(path, keep_default_na=False, na_values=[""], dtype=TEXT_COLUMNS)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise TuningError(f"{str(path)!r} is not a study results file ({exc})") from None
    name = DATASETS[study.dataset].metric.name
    needed = {"run", "group", "status", "label", "changed", "wall_time_s", *PROVENANCE, *study.baseline}
    needed |= {f"{part}_{name}" for part, _ in SERIES}
    missing = needed - set(frame.columns)
    if missing:
        raise TuningError(
            f"{str(path)!r} does not match study {study.name!r} version {STUDY_VERSION} "
            f"(missing {', '.join(sorted(missing))}); rerun python -m benchmarks.study {study.name}"
        )
    # An empty label is the baseline itself, not a missing value.
    return frame.assign(label=frame["label"].fillna(""), error=frame["error"].fillna(""))


def context(study: Study, frame: pd.DataFrame) -> Context:
    metric = DATASETS[study.dataset].metric
    score = f"val_{metric.name}"
    ok = frame[frame["status"] == "ok"]
    baseline_runs = _baseline_runs(study, ok)
    baseline = float(baseline_runs[score].mean()) if len(baseline_runs) else math.nan
    # One score per run seed: the baseline repeated under other initialisations.
    per_seed = _baseline_runs(study, ok, ignore=("run_seed",)).drop_duplicates("run_seed")[score]
    noise = float(per_seed.std(ddof=1)) if len(per_seed) >= 3 else math.nan
    return Context(metric=metric, score=score, baseline=baseline, runs=ok, noise=noise, noise_seeds=len(per_seed))


def _baseline_runs(study: Study, frame: pd.DataFrame, ignore: tuple[str, ...] = ()) -> pd.DataFrame:
    same = np.ones(len(frame), dtype=bool)
    for key, value in study.baseline.items():
        if key in ignore:
            continue
        column = frame[key]
        same &= np.isclose(column, value) if isinstance(value, float) else (column == value).to_numpy()
    return frame[same]


def _within_noise(difference: float, ctx: Context) -> bool:
    return math.isfinite(ctx.noise) and abs(difference) < 2 * ctx.noise


def _label(level: object) -> str:
    return f"{level:g}" if isinstance(level, float) else str(level)


def _versus(gain: float, ctx: Context) -> str:
    if gain == 0:
        return "level with"
    return f"{ctx.points(abs(gain))} {'better' if gain > 0 else 'worse'} than"


def _seconds(value: float) -> str:
    return f"{value:.1f}" if value < 10 else f"{value:.0f}"


def _group_frame(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    return frame[frame["group"] == name]


def figure_two_factors(group: Group, runs: pd.DataFrame, ctx: Context, path: Path) -> Path:
    rows_factor, cols_factor = list(group.factors)
    rows, cols = list(group.factors[rows_factor]), list(group.factors[cols_factor])
    grid = np.full((len(rows), len(cols)), np.nan)
    for r in runs.itertuples():
        grid[rows.index(getattr(r, rows_factor)), cols.index(getattr(r, cols_factor))] = getattr(r, ctx.score)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(cols) + 2.5), max(4.5, 0.8 * len(rows) + 1.8)))
    cmap = "viridis" if ctx.metric.greater_is_better else "viridis_r"
    image = ax.imshow(grid, cmap=cmap, aspect="auto")
    for i, j in np.ndindex(grid.shape):
        if math.isfinite(grid[i, j]):
            light = image.norm(grid[i, j]) > 0.5
            color = "black" if light == ctx.metric.greater_is_better else "white"
            ax.text(j, i, f"{grid[i, j]:.3f}", ha="center", va="center", color=color, fontsize=8)
    ax.set_xticks(range(len(cols)), [_label(c) for c in cols])
    ax.set_yticks(range(len(rows)), [_label(r) for r in rows])
    ax.set_xlabel(cols_factor)
    ax.set_ylabel(rows_factor)
    ax.set_title(f"{group.name}: {ctx.score} (baseline {ctx.baseline:.3f})")
    fig.colorbar(image, ax=ax, label=ctx.score)
    return save_figure(fig, path)


def figure_levels(name: str, labels: list[str], runs: pd.DataFrame, ctx: Context, path: Path) -> Path:
    """Scores (train, validation, test) and wall time per run, in the order the runs were defined."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.6))
    x = np.arange(len(runs))
    for split, color in SERIES:
        left.plot(x, runs[f"{split}_{ctx.metric.name}"], "o-", color=color, label=split)
    if math.isfinite(ctx.baseline):
        left.axhline(ctx.baseline, color="grey", linestyle=":", label="baseline (val)")
    left.set_ylabel(ctx.metric.name)
    left.set_title(f"{name}: {ctx.metric.name} after the last epoch")
    left.legend(fontsize=8)
    right.bar(x, runs["wall_time_s"], color="#999999")
    right.set_ylabel("wall time of the run (s)")
    right.set_title(f"{name}: cost")
    for ax in (left, right):
        ax.set_xticks(x, labels, rotation=30 if max(map(len, labels)) > 6 else 0, ha="right")
    return save_figure(fig, path)


def describe_result(runs: pd.DataFrame, ctx: Context) -> str:
    ranked = runs.sort_values(ctx.score, ascending=not ctx.metric.greater_is_better, kind="stable")
    best, worst = ranked.iloc[0], ranked.iloc[-1]
    name = ctx.metric.name
    text = (
        f"Best {best['label'] or 'baseline'}: {ctx.score} {best[ctx.score]:.4f} (test {best[f'test_{name}']:.4f}, "
        f"{_seconds(best['wall_time_s'])} s). Worst {worst['label'] or 'baseline'}: {worst[ctx.score]:.4f}. "
        f"Spread {ctx.points(abs(best[ctx.score] - worst[ctx.score]))}; the best is "
        f"{_versus(ctx.gain(best[ctx.score], ctx.baseline), ctx)} the baseline ({ctx.baseline:.4f})"
    )
    text += " — within twice the seed noise." if _within_noise(best[ctx.score] - ctx.baseline, ctx) else "."
    slow, fast = runs["wall_time_s"].max(), runs["wall_time_s"].min()
    if fast > 0:
        ratio = f"{slow / fast:.1f}× between the cheapest and dearest run"
        text += f" Wall time {_seconds(fast)}–{_seconds(slow)} s ({ratio})."
    return text


def verdict_text(verdict: Verdict, ctx: Context) -> str:
    """Supported, Not supported, or Inconclusive when the deciding difference is within twice the seed noise."""
    if _within_noise(verdict.distance, ctx):
        leaning = "supported" if verdict.supported else "not supported"
        return f"Inconclusive (leans {leaning})"
    return "Supported" if verdict.supported else "Not supported"


def _caveats(group: Group | None, runs: pd.DataFrame, ctx: Context) -> str:
    """What the reader must know before trusting the ranking: seed noise, and the hand-run numbers."""
    notes = []
    ranked = runs.sort_values(ctx.score, ascending=not ctx.metric.greater_is_better, kind="stable")
    measures_noise = group is not None and "run_seed" in group.factors
    if len(ranked) >= 2 and math.isfinite(ctx.noise) and not measures_noise:
        gap = abs(float(ranked.iloc[0][ctx.score] - ranked.iloc[1][ctx.score]))
        if gap < 2 * ctx.noise:
            notes.append(
                f"The best two runs differ by {ctx.points(gap)}, less than twice the seed noise "
                f"(standard deviation {ctx.points(ctx.noise)}, group seed_noise): their order is not conclusive."
            )
    for label, value in group.reported if group is not None else ():
        here = runs.loc[runs["label"] == label, ctx.score]
        if len(here):
            notes.append(f"The hand-run study reported {label} at {value:.4f}; here {float(here.iloc[0]):.4f}.")
    return " ".join(notes)


def _failures(group_runs: pd.DataFrame) -> str:
    failed = group_runs[group_runs["status"] != "ok"]
    if failed.empty:
        return ""
    listed = "; ".join(f"{r.label}: {r.error}" for r in failed.itertuples())
    return f" {len(failed)} run(s) failed and are left out: {listed}."


def _run_table(runs: pd.DataFrame, ctx: Context) -> str:
    name = ctx.metric.name
    rows = [
        [
            r["run"],
            r["label"] or "baseline",
            r["status"],
            *(f"{r[f'{s}_{name}']:.4f}" if math.isfinite(r[f"{s}_{name}"]) else "n/a" for s, _ in SERIES),
            f"{r['wall_time_s']:.1f}",
        ]
        for _, r in runs.iterrows()
    ]
    return md_table(["run", "changed", "status", f"train {name}", f"val {name}", f"test {name}", "wall s"], rows)


def _header(study: Study, frame: pd.DataFrame) -> list[str]:
    first = frame.iloc[0]
    versions = ", ".join(f"{c} {first[c]}" for c in VERSION_COLUMNS if c in frame.columns)
    total = frame["wall_time_s"].sum()
    return [
        f"- Command: `{first['command']}` (study version {first['study_version']}, commit {first['git_commit']})",
        f"- Runs: {len(frame)} from {frame['started_at'].min()} to {frame['finished_at'].max()} (UTC); "
        f"summed run time {total / 60:.1f} min; {int((frame['status'] != 'ok').sum())} failed",
        f"- Data: {study.dataset} at scale {first['scale']:g} (train {first['n_train']}, validation "
        f"{first['n_val']}, test {first['n_test']}), seed {first['seed']}; every run uses that split and seed "
        "(runs of the seed_noise group add their run_seed to it)",
        f"- Machine: {first['machine_cpus']} CPUs ({first['machine_cpu_model']}), {first['machine_ram_gb']} GB RAM",
        f"- Versions: {versions}",
        "- Every run selects on the validation split; the test score is recorded once per run and "
        "not used to choose anything.",
        "- Per run: `runs/<run>.toml`; all runs side by side: `tensorboard --logdir tensorboard` (HParams tab).",
    ]


def _baseline_note(study: Study, ctx: Context) -> str:
    repeats = _baseline_runs(study, ctx.runs)
    if len(repeats) < 2:
        return ""
    spread = float(repeats[ctx.score].max() - repeats[ctx.score].min())
    note = (
        f"The baseline configuration appears in {len(repeats)} groups and ran {len(repeats)} times with the same "
        f"seed: {ctx.score} varied by {ctx.points(spread)} between those runs (this machine's run-to-run noise). "
    )
    if math.isfinite(ctx.noise):
        return note + (
            f"Across initialisation seeds it varies more: standard deviation {ctx.points(ctx.noise)} (group "
            "seed_noise). A verdict that turns on a difference smaller than twice that is marked Inconclusive, and "
            "a ranking of two runs closer than that is marked as not conclusive."
        )
    return note + "Seed-to-seed variation is not measured by this study, so small differences are not evidence."


def build(study: Study, directory: Path) -> list[Path]:
    frame = load(study, directory)
    ctx = context(study, frame)
    figures = directory / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    sections, summary, written = [], [], []
    groups = [(g.name, g.hypothesis, g.expectation, g) for g in study.groups]
    groups.append(("combined", study.combined_hypothesis, study.combined_expectation, None))
    for name, hypothesis, expectation, group in groups:
        all_runs = _group_frame(frame, name)
        runs = _group_frame(ctx.runs, name)
        part = [f"## {name}", "", f"**Hypothesis.** {hypothesis}", ""]
        if runs.empty:
            part += ["**Result.** No finished runs." + _failures(all_runs), ""]
            summary.append([name, hypothesis, "no data", "", ""])
            sections += part
            continue
        checked = expectation.check(runs, ctx)
        verdict = verdict_text(checked, ctx)
        evidence = checked.evidence
        if verdict.startswith("Inconclusive"):
            evidence += (
                f"; the verdict turns on a difference of {ctx.points(checked.distance)}, less than twice the seed "
                f"noise (standard deviation {ctx.points(ctx.noise)})"
            )
        part += [f"**Result.** {describe_result(runs, ctx)}{_failures(all_runs)}", ""]
        caveats = _caveats(group, runs, ctx)
        part += [f"**Conclusion.** {verdict}: {evidence}." + (f" {caveats}" if caveats else ""), ""]
        path = figures / f"{name}.png"
        if group is not None and len(group.factors) == 2:
            written.append(figure_two_factors(group, runs, ctx, path))
        else:
            labels = [r.removeprefix("combined-") for r in runs["run"]]
            if group is not None and len(group.factors) == 1:
                factor = next(iter(group.factors))
                labels = [_label(v) for v in runs[factor]]
            written.append(figure_levels(name, labels, runs, ctx, path))
        part += [f"![{name}](figures/{name}.png)", "", _run_table(all_runs, ctx), ""]
        if name == "combined":
            part += [_combined_settings(all_runs, study), ""]
        best = runs.sort_values(ctx.score, ascending=not ctx.metric.greater_is_better, kind="stable").iloc[0]
        summary.append([name, hypothesis, verdict, best["label"] or "baseline", f"{best[ctx.score]:.4f}"])
        sections += part
    lines = [f"# Study `{study.name}`", "", study.description, "", *_header(study, frame), ""]
    lines += ["## Summary", "", md_table(["group", "hypothesis", "verdict", "best run", ctx.score], summary), ""]
    note = _baseline_note(study, ctx)
    if note:
        lines += [note, ""]
    lines += sections
    readme = directory / "README.md"
    links = other_reports(readme)
    lines += [] if links is None else [links.text, ""]
    readme.write_text("\n".join(lines))
    return [readme, *written]


def _combined_settings(runs: pd.DataFrame, study: Study) -> str:
    described = {f"combined-{c.name}": c.description for c in study.combinations}
    rows = [
        [r["run"], described.get(r["run"], ""), ", ".join(f"{k}={v}" for k, v in json.loads(r["changed"]).items())]
        for _, r in runs.iterrows()
    ]
    return md_table(["run", "what it tests", "settings that differ from the baseline"], rows)
