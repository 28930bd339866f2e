import json

import pytest

from sentiment.data import (file_format, load_label_names, load_labelled_file,
                            load_named_dataset)
from sentiment.errors import ConfigError, DataError

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
    with pytest.raises(DataError, match="unknown data set 'mnist'; choose imdb, sst2 or "
                                        "goemotions"):
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


def test_multi_label_cells_split_on_the_delimiter(tmp_path):
    path = tmp_path / "train.tsv"
    path.write_text("text\tlabels\nfun\tjoy; love ;joy\nmeh\t\nhm\t  \nok\t3;;a,b\n",
                    encoding="utf-8")
    data = load_labelled_file(path, label_column="labels", multi_label=True,
                              label_delimiter=";")
    assert data.multi_label and data.texts == ("fun", "meh", "hm", "ok")
    assert data.labels == (("joy", "love"), (), (), ("3", "a,b"))
    assert load_labelled_file(path, label_column="labels", multi_label=True).labels[3] == \
        ("3;;a", "b")
    assert data.head(2).multi_label and data.head(2).labels == (("joy", "love"), ())
    assert data.select([3, 0]).multi_label and data.select([3, 0]).labels[0] == ("3", "a,b")
    assert data.sample(2, seed=0).multi_label and data.sample(9).labels == data.labels
    with pytest.raises(DataError, match="row 2, column 'labels': the label is empty"):
        load_labelled_file(path, label_column="labels")  # single-label is the default
    path.write_text("text\tlabels\nfun\tjoy;love\n", encoding="utf-8")
    single = load_labelled_file(path, label_column="labels")
    assert not single.multi_label and single.labels == ("joy;love",)


def test_multi_label_null_cells_and_missing_strings_are_errors(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in [
        {"text": "a", "labels": "joy"}, {"text": "b", "labels": None}]) + "\n")
    with pytest.raises(DataError, match=r"train.jsonl: row 2, column 'labels': the labels "
                                        "are missing"):
        load_labelled_file(path, label_column="labels", multi_label=True)
    path.write_text(json.dumps({"text": "a", "labels": "joy"}) + "\n" +
                    json.dumps({"text": "b"}) + "\n")  # an absent key is a null too
    with pytest.raises(DataError, match="row 2, column 'labels': the labels are missing"):
        load_labelled_file(path, label_column="labels", multi_label=True)
    csv_path = write_labelled_csv(tmp_path / "t.csv", ["a", "b"], ["joy", "love,NA"])
    with pytest.raises(DataError, match="t.csv: row 2, column 'label': the label 'NA' reads "
                                        "as a missing value"):
        load_labelled_file(csv_path, multi_label=True)
    assert load_labelled_file(csv_path, multi_label=True, keep_label_strings=True).labels == \
        (("joy",), ("love", "NA"))


def test_multi_label_json_lines_lists(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in [
        {"text": "a", "labels": [1, 2.0, " x ", 1, "1"]}, {"text": "b", "labels": []},
        {"text": "c", "labels": ["a,b"]}, {"text": "d", "labels": 7}]) + "\n")
    data = load_labelled_file(path, label_column="labels", multi_label=True)
    assert data.labels == (("1", "2", "x"), (), ("a,b",), ("7",))  # list items are not split
    path.write_text("\n".join(json.dumps(r) for r in [
        {"text": "a", "labels": [1]}, {"text": "b", "labels": ["joy", None]}]) + "\n")
    with pytest.raises(DataError, match=r"row 2, column 'labels': item 2 of the label list "
                                        r"is missing \(null\)"):
        load_labelled_file(path, label_column="labels", multi_label=True)
    path.write_text(json.dumps({"text": "a", "labels": {"joy": 1}}) + "\n")
    with pytest.raises(DataError, match="row 1, column 'labels': the labels are a JSON object"):
        load_labelled_file(path, label_column="labels", multi_label=True)


def test_multi_label_parquet_list_columns(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({
        "text": ["a", "b", "c"],
        "ids": pa.array([[3, 1, 3], [], [0]], pa.list_(pa.int64())),
        "names": pa.array([["joy"], ["love", "joy"], []], pa.large_list(pa.string())),
        "floats": pa.array([[1.0, 2.5], [float("nan")], []], pa.list_(pa.float64())),
    }), tmp_path / "t.parquet")
    read = lambda column, **options: load_labelled_file(  # noqa: E731
        tmp_path / "t.parquet", label_column=column, multi_label=True, **options)
    assert read("ids").labels == (("3", "1"), (), ("0",))
    assert read("names").labels == (("joy",), ("love", "joy"), ())
    assert read("ids", label_names=["n0", "n1", "n2", "n3"]).labels == \
        (("n3", "n1"), (), ("n0",))
    with pytest.raises(DataError, match=r"t.parquet: row 2, column 'floats': item 1 of the "
                                        r"label list is missing"):
        read("floats")
    pq.write_table(pa.table({"text": ["a", "b"],
                             "ids": pa.array([[1], None], pa.list_(pa.int64()))}),
                   tmp_path / "t.parquet")
    with pytest.raises(DataError, match="row 2, column 'ids': the labels are missing"):
        read("ids")


def test_multi_label_indices_become_names(tmp_path):
    names = ("anger", "joy", "neutral")
    path = tmp_path / "train.tsv"
    path.write_text("text\tlabels\na\t2\nb\t0,1,0\nc\t\n", encoding="utf-8")
    data = load_labelled_file(path, label_column="labels", multi_label=True, label_names=names)
    assert data.labels == (("neutral",), ("anger", "joy"), ())
    for cell, value in (("1,3", "3"), ("-1", "-1"), ("joy", "joy"), ("1.5", "1.5"),
                        ("1_0", "1_0")):
        path.write_text(f"text\tlabels\na\t2\nb\t{cell}\n", encoding="utf-8")
        with pytest.raises(DataError, match=rf"train.tsv: row 2, column 'labels': the label "
                                            rf"'{value}' is not a label index; with 3 label "
                                            r"names, labels must be integers in \[0, 2\]"):
            load_labelled_file(path, label_column="labels", multi_label=True,
                               label_names=names)


def test_multi_label_options_are_checked(tmp_path):
    path = write_labelled_csv(tmp_path / "t.csv", ["a", "b"], ["0", "1"])
    with pytest.raises(ConfigError, match="label_delimiter must be a non-empty string; "
                                          "received ''"):
        load_labelled_file(path, multi_label=True, label_delimiter="")
    with pytest.raises(ConfigError, match="label_delimiter .* received None"):
        load_labelled_file(path, multi_label=True, label_delimiter=None)
    with pytest.raises(ConfigError, match="label_names .* pass multi_label=True"):
        load_labelled_file(path, label_names=("a", "b"))
    with pytest.raises(ConfigError, match="label_names must be a sequence of names, not a "
                                          "string"):
        load_labelled_file(path, multi_label=True, label_names="labels.txt")
    with pytest.raises(ConfigError, match="label_names holds 'a' more than once"):
        load_labelled_file(path, multi_label=True, label_names=("a", "b", "a"))


def test_label_names_files(tmp_path):
    path = tmp_path / "labels.txt"
    path.write_text("\ufeffadmiration\n amusement \nneutral\n\n  \n", encoding="utf-8")
    assert load_label_names(path) == ("admiration", "amusement", "neutral")
    path.write_text("a\nb", encoding="utf-8")
    assert load_label_names(path) == ("a", "b")
    with pytest.raises(DataError, match="nowhere.txt: file not found"):
        load_label_names(tmp_path / "nowhere.txt")
    for content in ("", "\n \n"):
        path.write_text(content, encoding="utf-8")
        with pytest.raises(DataError, match="labels.txt: the file holds no label names"):
            load_label_names(path)
    path.write_text("joy\nlove\nfear\nlove\n", encoding="utf-8")
    with pytest.raises(DataError, match="labels.txt: line 4: the label name 'love' is already "
                                        "on line 2"):
        load_label_names(path)
    path.write_text("joy\n\nlove\n", encoding="utf-8")
    with pytest.raises(DataError, match="labels.txt: line 2 is blank"):
        load_label_names(path)


def test_goemotions_from_the_local_directory(monkeypatch):
    root = require_data("goemotions/train.tsv", "goemotions/dev.tsv", "goemotions/test.tsv",
                        "goemotions/labels.txt")
    monkeypatch.setenv("SENTIMENT_DATA_DIR", str(root))
    splits = load_named_dataset("goemotions")
    assert (len(splits.train), len(splits.validation), len(splits.test)) == (43410, 5426, 5427)
    assert splits.multi_label and splits.train.multi_label and splits.validation.multi_label \
        and splits.test.multi_label
    assert len(splits.label_order) == 28 and splits.label_order[:2] == ("admiration",
                                                                         "amusement")
    assert splits.label_order[-1] == "neutral" and splits.label_names == {}
    assert splits.train.labels[0] == ("neutral",)
    assert splits.validation.source.endswith("dev.tsv")
    seen = {label for split in (splits.train, splits.validation, splits.test)
            for labels in split.labels for label in labels}
    assert seen == set(splits.label_order)
    assert all(1 <= len(labels) <= 5 for labels in splits.train.labels)


def test_goemotions_from_the_hub(monkeypatch, tmp_path):
    import sys
    import types

    names = ["admiration", "joy", "neutral"]
    calls = []

    class Split(dict):
        features = {"labels": types.SimpleNamespace(feature=types.SimpleNamespace(
            names=names))}

    def load_dataset(name, config, split):
        calls.append((name, config, split))
        return Split(text=[f"{split} a", f"{split} b"], labels=[[2], [0, 1, 0]])

    monkeypatch.setitem(sys.modules, "datasets", types.SimpleNamespace(
        load_dataset=load_dataset))
    monkeypatch.setenv("SENTIMENT_DATA_DIR", str(tmp_path))
    splits = load_named_dataset("goemotions")
    assert [call[2] for call in calls] == ["train", "validation", "test"]
    assert {call[:2] for call in calls} == {("google-research-datasets/go_emotions",
                                             "simplified")}
    assert splits.label_order == tuple(names) and splits.multi_label
    assert splits.train.labels == (("neutral",), ("admiration", "joy"))
    assert splits.validation.texts == ("validation a", "validation b")
    assert splits.test.source == "google-research-datasets/go_emotions:test"
