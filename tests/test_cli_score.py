"""``sentiment score`` on the command line: stdin/stdout, errors, and an interruption by
SIGTERM in a real process followed by ``--resume``."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time

import pyarrow.parquet as pq
from click.testing import CliRunner

from conftest import make_reviews, write_labelled_csv
from sentiment.cli import main
from sentiment import scoring
from sentiment.io import formats


def run(args, input=None):
    return CliRunner().invoke(main, ["score", *args], input=input)


def test_format_choices_match_the_library():
    options = {param.name: param for param in main.commands["score"].params}
    assert tuple(options["input_format"].type.choices) == formats.INPUT_FORMATS
    assert tuple(options["output_format"].type.choices) == formats.OUTPUT_FORMATS


def test_cli_module_imports_neither_tensorflow_nor_pyarrow():
    code = ("import sys, sentiment.cli; "
            "print(sorted(m for m in ('tensorflow', 'pyarrow') if m in sys.modules))")
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True).stdout
    assert output.strip() == "[]"


def test_stdin_text_lines_to_stdout_jsonl(tiny_model_dir, tiny_predictor):
    texts = ["what a wonderful film", "", "dull and boring 😴", "這部電影 superb"]
    result = run(["-", "--model", str(tiny_model_dir), "--quiet"],
                 input="\n".join(texts) + "\n")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [row["text"] for row in rows] == texts
    assert [row["error"] for row in rows] == [None, "empty text", None, None]
    expected = tiny_predictor.predict([texts[0], texts[2], texts[3]])
    assert [rows[i]["predicted_label"] for i in (0, 2, 3)] == [e["label"] for e in expected]
    assert rows[1]["predicted_label"] is None and rows[1]["predicted_score"] is None


def test_stdin_jsonl_with_probabilities(tiny_model_dir, tiny_predictor):
    lines = [{"id": 7, "text": "great fun", "label": "pos"}, {"id": 8, "text": "awful"}]
    result = run(["-", "--format", "jsonl", "--model", str(tiny_model_dir), "--quiet",
                  "--probabilities"], input="".join(json.dumps(x) + "\n" for x in lines))
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [{k: row[k] for k in line} for row, line in zip(rows, lines)] == lines
    probabilities = tiny_predictor.predict_proba(["great fun", "awful"])
    for row, expected in zip(rows, probabilities):
        assert abs(row["prob_neg"] - expected[0]) < 1e-6
        assert abs(row["prob_pos"] - expected[1]) < 1e-6
        assert row["predicted_score"] == max(row["prob_neg"], row["prob_pos"])


def test_file_to_output_file_with_summary(tmp_path, tiny_model_dir):
    texts, labels = make_reviews(12, seed=3)
    source = write_labelled_csv(tmp_path / "tickets.csv", texts, labels)
    target = tmp_path / "scored.parquet"
    result = run([str(source), "-o", str(target), "--model", str(tiny_model_dir)])
    assert result.exit_code == 0, result.output
    assert "scored 12 rows, 0 with errors" in result.stderr
    assert f"-> {target} (parquet)" in result.stderr
    table = pq.read_table(target)
    assert table.column("label").to_pylist() == labels  # the gold labels pass through
    assert table.column_names == ["text", "label", "predicted_label", "predicted_score", "error"]


def test_errors_are_one_line_with_exit_status_2(tmp_path, tiny_model_dir):
    source = tmp_path / "in.csv"
    source.write_text("id,review\n1,fun\n")
    result = run([str(source), "--model", str(tiny_model_dir)])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        f"Error: {source}: no column 'text'; columns are 'id', 'review' (use --text-column)"]
    result = run([str(tmp_path / "missing.csv"), "--model", str(tiny_model_dir)])
    assert result.exit_code == 2 and "missing.csv" in result.stderr
    assert "Traceback" not in result.stderr
    result = run(["-", "--resume", "--model", str(tiny_model_dir)], input="x\n")
    assert result.exit_code == 2 and "--resume needs an input file" in result.stderr


def test_sigterm_leaves_no_output_and_resume_finishes(tmp_path, tiny_model_dir, tiny_predictor):
    # enough rows that the run cannot finish before the signal, even on a loaded machine
    texts = [f"the film was {'great' if i % 2 else 'awful'} number {i}" for i in range(20_000)]
    source = tmp_path / "big.txt"
    source.write_text("\n".join(texts) + "\n", encoding="utf-8")
    target = tmp_path / "out.csv"
    state = scoring.state_paths(target)["state"]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    process = subprocess.Popen(
        [sys.executable, "-c", "from sentiment.cli import main; main()", "score", str(source), "-o", str(target),
         "--model", str(tiny_model_dir), "--chunk-size", "50", "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    try:
        deadline = time.monotonic() + 120
        while not state.exists():
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "no chunk completed in 120 s"
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 143, stderr
    assert "--resume" in stderr and "Traceback" not in stderr
    assert not target.exists()
    done = json.loads(state.read_text())["rows_done"]
    assert 0 < done < len(texts)

    result = run([str(source), "-o", str(target), "--model", str(tiny_model_dir), "--resume",
                  "--chunk-size", "1000", "--output-format", "csv"])
    assert result.exit_code == 0, result.output
    assert f"resumed after {done:,}" in result.stderr
    with open(target, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["text"] for row in rows] == texts  # no row duplicated or skipped
    sample = list(range(0, 20_000, 1_999))
    expected = tiny_predictor.predict_proba([texts[i] for i in sample])
    for i, probabilities in zip(sample, expected):
        assert abs(float(rows[i]["predicted_score"]) - probabilities.max()) < 1e-5


def test_an_output_that_is_the_input_exits_2_and_leaves_the_input(tmp_path, tiny_model_dir,
                                                                 monkeypatch):
    monkeypatch.chdir(tmp_path)
    texts, labels = make_reviews(5, seed=4)
    write_labelled_csv(tmp_path / "w.csv", texts, labels)
    original = (tmp_path / "w.csv").read_bytes()
    (tmp_path / "sub").mkdir()
    os.symlink(tmp_path, tmp_path / "linkdir")
    for output, extra in (("sub/../w.csv", []), ("linkdir/w.csv", ["--output-format", "jsonl"])):
        result = run(["w.csv", "-o", output, "--model", str(tiny_model_dir), *extra])
        assert result.exit_code == 2, result.output
        assert result.stderr == (f"Error: output '{output}' would replace the input 'w.csv' "
                                 "(the same path); choose another output path\n")
    assert (tmp_path / "w.csv").read_bytes() == original


def test_a_second_run_on_a_locked_output_exits_2_at_once(tmp_path, tiny_model_dir):
    texts, labels = make_reviews(5, seed=4)
    source = write_labelled_csv(tmp_path / "in.csv", texts, labels)
    target = tmp_path / "out.csv"
    code = ("import signal, sys\nsignal.alarm(120)\nfrom sentiment.artifacts import output_lock\n"
            "with output_lock(sys.argv[1]):\n    print('locked', flush=True)\n"
            "    sys.stdin.read()\n")
    holder = subprocess.Popen([sys.executable, "-c", code, str(target)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "locked\n"
        result = run([str(source), "-o", str(target), "--model", str(tiny_model_dir)])
        holder.communicate("", timeout=60)
    finally:
        holder.kill()
    assert result.exit_code == 2, result.output
    assert result.stderr == (f"Error: '{target}' is being written by another run (pid "
                             f"{holder.pid}); wait for it to end or stop it\n")
    assert not target.exists()


def test_a_ragged_csv_row_is_named_on_the_command_line(tmp_path, tiny_model_dir):
    source = tmp_path / "in.csv"
    source.write_text("id,text\n" + "".join(f"{i},text {i}\n" if i != 3000 else "1,2,3,4\n"
                                            for i in range(1, 4000)))
    result = run([str(source), "-o", str(tmp_path / "out.csv"), "--model", str(tiny_model_dir)])
    assert result.exit_code == 2
    assert result.stderr == (f"Error: {source}: row 3000 (line 3001): expected 2 fields, "
                             "found 4: '1,2,3,4'\n")
