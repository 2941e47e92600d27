"""The report as a document: what it says, in which order, with which figures; then written out."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from benchmarks.report.agreement import REPLAY, Agreement, agreements, describe, withheld
from benchmarks.report.analysis import Analysis, analyse
from benchmarks.report.answer import answer_blocks, answered_tasks
from benchmarks.report.figures import (
    figure_anytime_budget,
    figure_anytime_time,
    figure_cost,
    figure_cost_quality,
    figure_critical_difference,
    figure_mean_rank,
    figure_parameters,
    figure_test_scores,
    slug,
)
from benchmarks.report.findings import (
    BUDGET_TO_REFERENCE_HEADER,
    RANK_TEST_HEADER,
    SUMMARY_HEADER,
    budget_to_reference_rows,
    method_notes,
    pooled_verdict,
    rank_test_rows,
    summary_rows,
    task_findings,
)
from benchmarks.report.records import VERSION_COLUMNS, Records, load
from benchmarks.report.render import (
    Bullets,
    Document,
    Image,
    Paragraph,
    Section,
    Table,
    other_reports,
    write_html,
    write_markdown,
)

__all__ = ["write_report"]

TITLE = "Which search method should I use? — benchmark report"


def _values(cells: pd.DataFrame, column: str, separator: str = ", ") -> str:
    return separator.join(sorted(set(cells[column].dropna().astype(str)))) if column in cells else "unknown"


def _machines(cells: pd.DataFrame) -> str:
    """The machine the runs ran on or, where they ran on several, each with its tasks: timings
    and scores hold on one machine only."""
    if "machine_cpus" not in cells:
        return "unknown"
    described = cells.machine_cpus.astype(str) + " CPUs (" + cells.machine_cpu_model.astype(str) + "), "
    described += cells.machine_ram_gb.astype(str) + " GiB RAM"
    tasks = cells.groupby(described).task.unique()
    if len(tasks) == 1:
        return tasks.index[0]
    return "; ".join(f"{machine} for {', '.join(sorted(names))}" for machine, names in tasks.items())


# Machines the run time is estimated for, beside the one the run had.
MACHINE_COUNTS = (2, 4, 8)


def _run_times(cells: pd.DataFrame) -> str:
    """Per harness command, the real time from its first cell's start to its last cell's end, the
    sum of its cells' times (more than the first where cells ran side by side), and about how long
    ``MACHINE_COUNTS`` machines with as many cells at a time each would take: the cells' time shared
    out evenly, never less than the longest cell."""
    started, finished = pd.to_datetime(cells.started_at), pd.to_datetime(cells.finished_at)
    parts = []
    for _, run in cells.groupby("command"):
        span = round((finished[run.index].max() - started[run.index].min()).total_seconds())
        durations = (finished[run.index] - started[run.index]).dt.total_seconds()
        at_once = int(run.jobs_on_host.max()) if "jobs_on_host" in run and run.jobs_on_host.notna().any() else 1
        estimates = "/".join(
            f"{max(durations.sum() / (at_once * machines), durations.max()) / 60:.0f}" for machines in MACHINE_COUNTS
        )
        parts.append(
            f"{', '.join(sorted(set(run.task)))}: {span // 60} min {span % 60} s, {durations.sum():.0f} s in cells, "
            f"{at_once} at a time (the longest {durations.max():.0f} s); on "
            f"{'/'.join(map(str, MACHINE_COUNTS))} such machines about {estimates} min"
        )
    return "; ".join(parts)


def header(records: Records, command: str) -> list[tuple[str, str]]:
    cells = records.cells
    finished = f"{cells.started_at.min()} to {cells.finished_at.max()}" if "started_at" in cells else "unknown"
    budgets = "; ".join(
        f"{task}: {int(c.budget_epochs.iloc[0])} epochs per search, {int(c.epochs_per_trial.iloc[0])} per "
        f"full-fidelity trial, {c.seed.nunique()} seed{'s' if c.seed.nunique() != 1 else ''}"
        for task, c in cells.groupby("task")
    )
    return [
        ("Harness command", _values(cells, "command")),
        ("Report command", command),
        ("Runs finished", finished),
        *([("Run time", _run_times(cells))] if {"command", "started_at"} <= set(cells) else []),
        ("Report built", datetime.now(UTC).isoformat(timespec="seconds")),
        ("Machine", _machines(cells)),
        (
            "Versions",
            ", ".join(
                f"{k} {_values(cells, k, '/')}" for k in VERSION_COLUMNS if k in cells and cells[k].notna().any()
            ),
        ),
        ("Profile", _values(cells, "profile")),
        ("Budget", budgets),
        ("Code", _values(cells, "git_commit")),
        ("Benchmark version", _values(cells, "benchmark_version")),
        *(
            [
                (
                    "Replay",
                    "replayed trials are answered from learning-curve tables (python -m benchmarks.curves); "
                    "their times are the recorded epoch times plus each method's real proposal time",
                )
            ]
            if "replay" in records.modes
            else []
        ),
    ]


def _figures(analysis: Analysis, directory: Path) -> list[tuple[Path, str]]:
    """Draw every figure into ``directory``; returns each path with its caption."""
    records = analysis.records
    drawn = [
        (
            figure_anytime_budget(analysis, directory / "anytime_budget.png"),
            "Anytime performance against the share of the epoch budget spent (log scale). Per dataset: the best "
            "full-fidelity validation score so far, median over seeds with a 95% bootstrap interval. Last: "
            "normalised regret over datasets × seeds.",
        ),
        (
            figure_anytime_time(analysis, directory / "anytime_time.png"),
            "Anytime performance against the wall time of the search (log scale), median over seeds with a 95% "
            "bootstrap interval.",
        ),
        (
            figure_mean_rank(analysis, directory / "mean_rank.png"),
            "Mean rank on regret over the budget (1 = best); dotted lines at 25, 50 and 100%, where the rank "
            "tests run. Descriptive: what the tests support is in the verdict.",
        ),
    ]
    diagram = figure_critical_difference(analysis, directory / "critical_difference.png")
    if diagram is not None:
        drawn.append(
            (
                diagram,
                "Critical-difference diagrams, datasets pooled: mean rank per method; a bar joins methods that the "
                "Holm-corrected Wilcoxon tests cannot separate (all of them, where the blocks are too few for any "
                "test or the Friedman test finds no difference).",
            )
        )
    drawn += [
        (
            figure_test_scores(analysis, directory / "test_scores.png"),
            "Test score of each search's refit winner, one point per seed, bar at the median.",
        ),
        (
            figure_cost(analysis, directory / "cost.png"),
            "Cost per search: search time (refit excluded), trials evaluated and share of the budget spent.",
        ),
    ]
    drawn += [
        (
            figure_parameters(records, task, directory / f"parameters_{slug(task)}.png"),
            f"{task}: every searched parameter against the validation score of the successful full-fidelity "
            "trials, coloured by method; the worst tenth of the trials lies off the axes.",
        )
        for task in records.tasks
    ]
    return drawn


def _verdict_lines(analysis: Analysis, held: dict[float, str]) -> list[str]:
    """The pooled verdict of each mode; a replay's only where its checks let it speak at the full budget."""
    modes = analysis.records.modes
    lines = []
    for mode in modes:
        said = [held[1.0]] if mode == REPLAY and 1.0 in held else pooled_verdict(analysis, mode)
        lines += [f"**{mode} runs**: {line}" for line in said] if len(modes) > 1 else said
    return lines


def _budget_to_reference(analysis: Analysis) -> Table | Paragraph:
    rows = budget_to_reference_rows(analysis)
    if rows:
        return Table(BUDGET_TO_REFERENCE_HEADER, rows)
    return Paragraph(f"No dataset has a median final score of {analysis.reference_method} to race to.")


def _winners(records: Records) -> Table:
    rows = [
        [r.task, r.method, str(r.seed), json.dumps(json.loads(r.best_params), sort_keys=True)]
        for r in records.cells.sort_values(["task", "method", "seed"], kind="stable").itertuples()
    ]
    return Table(["dataset", "method", "seed", "best parameters"], rows)


def _replay_against_real(found: list[Agreement]) -> list[Section]:
    if not found:
        return []
    return [Section("Replay against real training", [block for a in found for block in describe(a)])]


def write_report(
    in_dirs: Sequence[Path], out_dir: Path, *, command: str, reference_method: str = "random"
) -> list[Path]:
    records = load(*in_dirs)
    analysis = analyse(records, reference_method=reference_method)
    figures = out_dir / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    # The answer's figure is linked in the answer, not again among the others.
    cost_quality = figure_cost_quality(analysis, answered_tasks(records), figures / "cost_quality.png")
    drawn = _figures(analysis, figures)
    pictures = [cost_quality, *(path for path, _ in drawn)]
    # An earlier report's figures (another dataset, mode or set of methods) would stay beside these, unlinked.
    for stale in set(figures.glob("*.png")) - set(pictures):
        stale.unlink()
    found = agreements(analysis)
    held = withheld(analysis, found)
    rank_rows = [
        row for mode in records.modes for row in rank_test_rows(analysis, mode, held if mode == REPLAY else {})
    ]
    links = [block for block in [other_reports(out_dir / "README.md")] if block is not None]
    document = Document(
        TITLE,
        header(records, command),
        lead=[Section("The answer", [*answer_blocks(analysis, found, f"figures/{cost_quality.name}"), *links])],
        sections=[
            Section("Verdict, datasets pooled", [Bullets(_verdict_lines(analysis, held))]),
            Section(
                "Rank tests at 25%, 50% and 100% of the budget, datasets pooled", [Table(RANK_TEST_HEADER, rank_rows)]
            ),
            Section("Per dataset", [Bullets(task_findings(analysis, task)) for task in records.tasks]),
            *_replay_against_real(found),
            Section(
                f"Budget to reach the reference score, {reference_method}'s median final validation score",
                [_budget_to_reference(analysis)],
            ),
            Section("Final test scores and cost", [Table(SUMMARY_HEADER, summary_rows(analysis))]),
            Section("How the numbers are made", [Bullets(method_notes(analysis))]),
            Section("Figures", [Image(f"figures/{path.name}", caption) for path, caption in drawn]),
            Section("Winning configurations", [_winners(records)], html_only=True),
        ],
    )
    return [
        write_markdown(document, out_dir / "README.md"),
        write_html(document, out_dir / "report.html"),
        *pictures,
    ]
