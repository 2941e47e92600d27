"""The README's reuse example runs as written."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_wrapper_example_runs(fashion_split):
    text = README.read_text()
    section = text.split("## Reusing the wrappers", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert len([line for line in code.splitlines() if line.strip()]) <= 11
    # The example's X, y: a small real slice, pixels scaled as a user would.
    namespace = {"X": fashion_split.x_train / 255.0, "y": fashion_split.y_train}
    exec(compile(code, str(README), "exec"), namespace)
    search = namespace["search"]
    assert set(search.best_params_) == {"model__units", "batch_size"}
    assert len(search.cv_results_["params"]) == 4
