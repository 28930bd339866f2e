"""README's "A sentiment index" commands, run as written on a small dated file: score it with
a classifier, resample the positive class's probability per day, train a forecaster on it and
forecast the days after it."""

import json
import re
import shlex

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from click.testing import CliRunner

from conftest import PROJECT_ROOT, make_reviews
from sentiment.cli import main


def readme_index_commands() -> list[list[str]]:
    """The ``sentiment ...`` command lines of the bash block under "A sentiment index"."""
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("**A sentiment index.**"):]
    block = re.search(r"```bash\n(.*?)```", section, re.DOTALL).group(1)
    lines = block.replace("\\\n", " ").splitlines()
    commands = [shlex.split(line, comments=True) for line in lines if line.strip()]
    assert commands and all(command[0] == "sentiment" for command in commands)
    return [command[1:] for command in commands]


def test_readme_sentiment_index_commands_run_as_written(tmp_path, monkeypatch, tiny_model_dir):
    # posts.parquet: 120 days of 1-4 synthetic reviews each, the share of positive ones rising
    rng = np.random.default_rng(0)
    texts, labels = make_reviews(2000)
    positive = [t for t, y in zip(texts, labels) if y == "pos"]
    negative = [t for t, y in zip(texts, labels) if y == "neg"]
    rows = []
    for day in range(120):
        for _ in range(rng.integers(1, 5)):
            pool = positive if rng.random() < 0.2 + 0.6 * day / 120 else negative
            rows.append({"text": pool[rng.integers(len(pool))],
                         "created": f"{np.datetime64('2024-01-01') + day} "
                                    f"{rng.integers(0, 24):02d}:00:00"})
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "posts.parquet")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SENTIMENT_MODEL_DIR", str(tiny_model_dir))  # the default classifier

    outputs = []
    for args in readme_index_commands():
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, f"sentiment {' '.join(args)}\n{result.output}"
        outputs.append(result.output)

    scored = pq.read_table(tmp_path / "scored.parquet")
    assert scored.num_rows == len(rows) and "prob_pos" in scored.column_names
    # the index averages the positive class's probability, and says so
    assert "index: the mean of column 'prob_pos'" in outputs[1]
    saved = json.loads((tmp_path / "models" / "index" / "config.json").read_text())
    assert saved["forecaster"]["score_column"] == "prob_pos"
    assert saved["forecaster"]["resample"] == "1D"
    forecast = [line.split(",") for line in outputs[2].strip().splitlines()]
    assert forecast[0] == ["created", "prob_pos"] and len(forecast) == 1 + 7
    assert forecast[1][0] == "2024-04-30"  # the day after the last of the 120 days
    assert all(0.0 <= float(row[1]) <= 1.5 for row in forecast[1:])
