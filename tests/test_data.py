import json

import pytest

from sentiment.data import file_format, load_labelled_file, load_named_dataset
from sentiment.errors import DataError

from conftest import require_data, write_labelled_csv


def test_csv_cells_stay_strings(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text('text,label\n007,1\nNA,0\n"multi\nline, ""quoted""",1\n,0\n', encoding="utf-8")
    data = load_labelled_file(path)
    assert data.texts == ("007", "NA", 'multi\nline, "quoted"', "")
    assert data.labels == ("1", "0", "1", "0")


def test_tsv_is_read_without_quoting(tmp_path):
    path = tmp_path / "train.tsv"
    path.write_text('sentence\tlabel\nit \'s a "gem\t1\n', encoding="utf-8")
    data = load_labelled_file(path, "sentence")
    assert data.texts == ('it \'s a "gem',)


def test_jsonl_number_labels_become_strings_and_nulls_are_errors(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in [
        {"review": "good", "stars": 5}, {"review": "12", "stars": 1.0}]) + "\n")
    data = load_labelled_file(path, "review", "stars")
    assert data.texts == ("good", "12") and data.labels == ("5", "1")
    path.write_text("\n".join(json.dumps(r) for r in [
        {"review": "good", "stars": 5}, {"review": None, "stars": 1}]) + "\n")
    with pytest.raises(DataError, match=r"train.jsonl: row 2, column 'review' is missing"):
        load_labelled_file(path, "review", "stars")


def test_a_text_column_of_numbers_is_an_error_not_stringified(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"text": [1, 2, 3], "label": [0, 1, 0]}), tmp_path / "t.parquet")
    with pytest.raises(DataError, match=r"t.parquet: column 'text' holds int values "
                                        r"\(row 1: 1\), not texts"):
        load_labelled_file(tmp_path / "t.parquet")
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in [
        {"text": "good", "label": 1}, {"text": 12, "label": 0}]) + "\n")
    with pytest.raises(DataError, match=r"mixed.jsonl: column 'text' holds int values "
                                        r"\(row 2: 12\)"):
        load_labelled_file(path)


@pytest.mark.parametrize("cell, problem", [("", "the label is empty"), ("  ", "is empty"),
                                           ("NaN", "the label 'NaN' reads as a missing value"),
                                           ("nan", "reads as a missing value"),
                                           ("NA", "reads as a missing value"),
                                           ("null", "reads as a missing value")])
def test_an_empty_or_missing_label_cell_names_its_row(tmp_path, cell, problem):
    rows = [["good film", "1"], ["bad film", "0"], ["fine", cell], ["ok", "1"]]
    path = write_labelled_csv(tmp_path / "train.csv", *map(list, zip(*rows)))
    with pytest.raises(DataError, match=rf"train.csv: row 3, column 'label': .*{problem}"):
        load_labelled_file(path)


def test_label_strings_stay_classes_when_asked(tmp_path):
    path = write_labelled_csv(tmp_path / "train.csv", ["a", "b", "c"], ["NaN", "pos", "NA"])
    data = load_labelled_file(path, keep_label_strings=True)
    assert data.labels == ("NaN", "pos", "NA")
    path = write_labelled_csv(tmp_path / "empty.csv", ["a", "b"], ["", "pos"])
    with pytest.raises(DataError, match="row 1, column 'label': the label is empty"):
        load_labelled_file(path, keep_label_strings=True)


def test_a_parquet_null_or_nan_label_is_an_error(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"text": ["a", "b"], "label": [1.0, float("nan")]}),
                   tmp_path / "t.parquet")
    with pytest.raises(DataError, match="row 2, column 'label': the label is missing"):
        load_labelled_file(tmp_path / "t.parquet")


def test_a_bad_json_line_is_named_and_nothing_else_is_printed(tmp_path, capfd):
    lines = [json.dumps({"text": f"film {i}", "label": i % 2}) for i in range(10)]
    lines[6] = '{"text": "broken, "label": 1'
    path = tmp_path / "train.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"train.jsonl: line 7 is not valid JSON"):
        load_labelled_file(path)
    captured = capfd.readouterr()
    assert captured.out == "" and captured.err == ""


def test_parquet(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"text": ["a", "b"], "label": [0, 1]}), tmp_path / "t.parquet")
    assert load_labelled_file(tmp_path / "t.parquet").labels == ("0", "1")


def test_errors_name_file_and_columns(tmp_path):
    with pytest.raises(DataError, match="nowhere.csv: file not found"):
        load_labelled_file(tmp_path / "nowhere.csv")
    with pytest.raises(DataError, match="unsupported file type '.xlsx'"):
        file_format("data.xlsx")
    path = tmp_path / "t.csv"
    path.write_text("body,label\nx,1\n")
    with pytest.raises(DataError, match="no column 'text'; columns are 'body', 'label'"):
        load_labelled_file(path)
    path.write_text("text,label\n")
    with pytest.raises(DataError, match="no rows"):
        load_labelled_file(path)


def test_named_datasets_from_the_local_directory(monkeypatch):
    root = require_data("sst2/train.tsv", "sst2/dev.tsv")
    monkeypatch.setenv("SENTIMENT_DATA_DIR", str(root))
    splits = load_named_dataset("sst2")
    assert len(splits.train) == 67349 and len(splits.test) == 872
    assert set(splits.train.labels) == {"0", "1"}
    assert splits.label_names == {"0": "negative", "1": "positive"}
    with pytest.raises(DataError, match="unknown data set 'mnist'"):
        load_named_dataset("mnist")


def test_ragged_rows_invalid_utf8_and_empty_files(tmp_path):
    path = tmp_path / "train.csv"
    path.write_bytes(b'text,label\n"two\nlines",1\n\xff bad,0\nthree,1,extra\n')
    with pytest.raises(DataError, match=r"train.csv: row 3 \(line 5\): expected 2 fields, "
                                        "found 3"):
        load_labelled_file(path)
    path.write_bytes(b'text,label\n"two\nlines",1\n\xff bad,0\n')
    assert load_labelled_file(path).texts == ("two\nlines", "\ufffd bad")
    for name, content in (("empty.jsonl", ""), ("blank.jsonl", "\n\n"),
                          ("header.tsv", "sentence\tlabel\n")):
        (tmp_path / name).write_text(content)
        with pytest.raises(DataError, match=f"{name}: the file has no rows"):
            load_labelled_file(tmp_path / name, "sentence" if name.endswith("tsv") else "text")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataError, match=r"empty.csv: the file is empty \(no header line\)"):
        load_labelled_file(tmp_path / "empty.csv")


def test_parquet_reads_only_the_two_columns_and_keeps_label_types(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"id": [1, 2], "body": pa.array(["a", "b"], pa.large_string()),
                             "stars": [4.0, 1.5], "blob": [b"x", b"y"]}), tmp_path / "t.pq")
    data = load_labelled_file(tmp_path / "t.pq", "body", "stars")
    assert data.texts == ("a", "b") and data.labels == ("4", "1.5")
    with pytest.raises(DataError, match=r"t.pq: no column 'text'; columns are 'id', 'body', "
                                        r"'stars', 'blob' \(use --text-column / --label-column\)"):
        load_labelled_file(tmp_path / "t.pq")
