import json

import pytest

from sentiment.data import file_format, load_labelled_file, load_named_dataset
from sentiment.errors import DataError

from conftest import require_data


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


def test_jsonl_numbers_become_strings_and_nulls_are_errors(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in [
        {"review": "good", "stars": 5}, {"review": 12, "stars": 1}]) + "\n")
    data = load_labelled_file(path, "review", "stars")
    assert data.texts == ("good", "12") and data.labels == ("5", "1")
    path.write_text("\n".join(json.dumps(r) for r in [
        {"review": "good", "stars": 5}, {"review": None, "stars": 1}]) + "\n")
    with pytest.raises(DataError, match=r"train.jsonl: row 2, column 'review' is missing"):
        load_labelled_file(path, "review", "stars")


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
