"""A curve table's report: what it holds, who built it, its seed noise, and how well its surrogate predicts."""

from __future__ import annotations

from pathlib import Path

from benchmarks.common.store import write_csv_atomically
from benchmarks.curves.surrogate import MIN_CALIBRATION_CONFIGS, NOISE_BANDS, Surrogate, fidelity
from benchmarks.curves.table import CurveTable
from benchmarks.report.render import Bullets, Document, Paragraph, Section, Table, other_reports, write_markdown

__all__ = ["FIDELITY_FILE", "README_FILE", "SPEARMAN_TARGET", "write_report"]

FIDELITY_FILE = "fidelity.csv"
README_FILE = "README.md"
# Issue 14's bar for held-out configurations' final validation scores.
SPEARMAN_TARGET = 0.9


def write_report(table: CurveTable, directory: Path, *, command: str) -> list[Path]:
    """fidelity.csv (held-out Spearman per epoch) and README.md beside the table."""
    rows, metadata = table.rows, table.metadata
    scores = fidelity(rows, table.space)
    write_csv_atomically(scores, directory / FIDELITY_FILE)
    surrogate = Surrogate.fit(rows, table.space)
    spread = surrogate.spread
    final = rows[(rows.seed == 0) & (rows.epoch == table.epochs)]
    first_epoch = rows.loc[rows.epoch == 1, "epoch_s"]
    later_epochs = rows.loc[rows.epoch > 1, "epoch_s"]
    failed = rows.loc[(rows.seed == 0) & (rows.epoch == 1), "trial_error"].fillna("").ne("").sum()
    last = scores.iloc[-1]
    verdict = "met" if last.spearman >= SPEARMAN_TARGET else "not met"
    design, jobs = metadata["design"], metadata["jobs"]
    chosen = sorted({1, *[e for e in (3, 9) if e < table.epochs], table.epochs})
    finished = "." if jobs["finished"] == jobs["planned"] else "; a rerun of the build command resumes."
    holds = [
        f"{metadata['configurations']} configurations under seed 0: a scrambled Sobol design of "
        f"{design['n_design']} and every point of the grids of {', '.join(map(str, design['grid_sizes']))} points "
        f"(the grid methods' at {', '.join(f'{m}x' for m in design['budget_multiples'])} the budget); the first "
        f"{design['noise_configs']} also under seeds 1..{design['noise_seeds'] - 1}"
        + (f", the grid points under seeds 1..{design['grid_seeds'] - 1}" if design.get("grid_seeds", 1) > 1 else "")
        + ". "
        f"{jobs['finished']} of {jobs['planned']} planned curves finished{finished}",
        f"{table.epochs} epochs each (on {metadata['setting']['fraction']:.0%} of the training data), trained by the "
        f"trial recipe on each seed's split; {failed} seed-0 configurations failed to train.",
        f"Final validation {metadata['metric']}: min {final.val_score.min():.4f}, median "
        f"{final.val_score.median():.4f}, max {final.val_score.max():.4f}.",
        f"Epoch wall time: median {first_epoch.median():.2f} s for the first epoch (building and compiling "
        f"included) and {later_epochs.median():.3f} s for the others.",
        f"Built {metadata['built']['first_started']} to {metadata['built']['last_finished']}.",
    ]
    builders = [
        f"`{p['command']}` at commit {p['git_commit']}; {p['machine_cpu_model']}, {p['machine_cpus']} CPUs; "
        f"Python {p['python']}, Keras {p['keras']}, JAX {p['jax']}, scikit-learn {p['scikit-learn']}"
        for p in metadata["provenance"]
    ]
    noise = [
        [str(epoch), str(band), *(f"{value:.4f}" for value in row)]
        for (epoch, band), row in spread.loc[chosen].iterrows()
    ]
    error = (
        Table(
            ["epoch", "band", *surrogate.error.columns],
            [
                [str(epoch), str(band), *(f"{value:.4f}" for value in row)]
                for (epoch, band), row in surrogate.error.loc[chosen].iterrows()
            ],
        )
        if surrogate.error is not None
        else Paragraph(
            f"Not measured: fewer than {MIN_CALIBRATION_CONFIGS} configurations trained under seeds besides 0, "
            "so the surrogate answers uncalibrated and draws seed noise only."
        )
    )
    spearman = [
        [str(r.epoch), str(r.configurations), f"{r.spearman:.3f}", f"{r.seed_to_seed:.3f}",
         f"{r.spearman_seed_mean:.3f} ({r.configurations_seed_mean})"]
        for r in scores.itertuples()
    ]  # fmt: skip
    document = Document(
        f"Curve table: {metadata['dataset']} ({metadata['profile']} setting)",
        [
            ("command", f"`{command}`"),
            (
                "files",
                "curves.csv.gz (one row per configuration, seed and epoch), "
                "curves.json (space, setting, provenance), fidelity.csv (the surrogate's held-out Spearman per epoch)",
            ),
        ],
        [
            Section("What it holds", [Bullets(holds)]),
            Section("Built by", [Bullets(builders)]),
            Section(
                "Seed noise",
                [
                    Paragraph(
                        "What a seed changes, from the configurations trained under several. A seed's split "
                        "shifts every configuration's scores alike (seed_shift: the standard deviation of the "
                        "seeds' median validation deviations); replay leaves that shift out, since it moves no "
                        "configuration against another, and draws only what is left: the standard deviation of a "
                        "seed's residual deviation from its configuration's mean (val_score, test_score), measured "
                        f"in {NOISE_BANDS} bands of equal size by the configurations' mean validation score (level: "
                        "the band's mean; a replayed configuration gets the band nearest its expected score, since "
                        "configurations that train badly vary far more than good ones), the correlation of its "
                        "validation and test residuals (a replayed test score's noise follows its validation "
                        "score's that closely), and that of its validation residuals at the epoch and at the last "
                        "(a replayed epoch's noise foretells the last epoch's that closely):"
                    ),
                    Table(["epoch", "band", *spread.columns], noise),
                ],
            ),
            Section(
                "The trees' error",
                [
                    Paragraph(
                        "What the calibrated surrogate still misses, beyond seed noise: the configurations trained "
                        "under several seeds, each answered by trees fitted without it, against its mean over its "
                        "seeds other than 0 (shifts out), less what that mean holds of seed noise. Per band of the "
                        "answer (level: the band's mean answer), the standard deviation of that error for each "
                        "score, their correlation, and that of a configuration's validation miss at the epoch and "
                        "at the last. A real search meets this part of a configuration's worth that no "
                        "neighbour tells, so a replayed curve draws it, per configuration and seed, on top of "
                        "seed noise:"
                    ),
                    error,
                ],
            ),
            Section(
                "Surrogate fidelity",
                [
                    Paragraph(
                        f"Spearman's rank correlation between the recorded validation {metadata['metric']} of "
                        "held-out configurations and the surrogate's prediction (5 folds over the seed-0 "
                        "configurations, each predicted by a surrogate fitted on the other four). Target at the "
                        f"last epoch: >= {SPEARMAN_TARGET} ({verdict}: {last.spearman:.3f}). A recorded score is "
                        "one seed's. For scale, seed to seed is the rank correlation between two seeds' scores of "
                        "the configurations trained under several (their number in brackets in the last column, "
                        f"{last.seed_to_seed:.3f} at the last epoch): what rerunning a configuration under another "
                        "seed would reach. The last column compares the predictions with the mean over seeds of "
                        "those configurations."
                    ),
                    Table(["epoch", "configurations", "Spearman", "seed to seed", "Spearman vs seed mean"], spearman),
                    Paragraph(
                        "Limits: the surrogate interpolates between trained configurations (its tree "
                        "models cannot extrapolate, and configurations outside the table's space are refused); a "
                        "configuration that diverges is predicted from its neighbours, not as a failure; its epoch "
                        "times are those of the machine above."
                    ),
                ],
            ),
        ],
    )
    links = other_reports(directory / README_FILE)
    if links is not None:
        document.sections.append(Section("Other reports", [links]))
    return [directory / FIDELITY_FILE, write_markdown(document, directory / README_FILE)]
