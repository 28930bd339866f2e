import hashlib
import json
import os

import numpy as np
import pytest

from sentiment import Predictor
from sentiment.errors import ConfigError, DataError, ModelError


def test_predict_single_text_returns_plain_dict(tiny_predictor):
    result = tiny_predictor.predict("a wonderful and brilliant film")
    assert set(result) == {"label", "score", "scores"}
    assert result["label"] == "pos"
    assert set(result["scores"]) == {"neg", "pos"}
    assert result["score"] == max(result["scores"].values())
    assert sum(result["scores"].values()) == pytest.approx(1.0, abs=1e-5)
    json.dumps(result)  # plain Python types


def test_predict_list_keeps_input_order(tiny_predictor):
    texts = ["awful boring film", "great fun", "the plot was dull and tedious " * 5, "superb"]
    results = tiny_predictor.predict(texts, batch_size=2)
    assert [r["label"] for r in results] == ["neg", "pos", "neg", "pos"]
    singles = [tiny_predictor.predict(t) for t in texts]
    for batched, single in zip(results, singles):
        assert batched["scores"]["pos"] == pytest.approx(single["scores"]["pos"], abs=1e-5)


def test_texts_encoded_in_blocks_keep_their_order(tiny_predictor, monkeypatch):
    # more texts than one encoding block: the next block is encoded in a thread while the
    # model runs on the current one; every row must still land in its place
    import sentiment.predictor

    texts = [("great fun " * (i % 5) + "awful dull " * (i % 3)).strip() for i in range(23)]
    expected = np.concatenate([tiny_predictor.predict_proba([t]) for t in texts])
    monkeypatch.setattr(sentiment.predictor, "ENCODE_CHUNK", 4)
    np.testing.assert_allclose(tiny_predictor.predict_proba(texts, batch_size=3), expected,
                               atol=1e-5)
    with pytest.raises(DataError, match=r"texts\[9\] is int"):
        tiny_predictor.predict_proba(texts[:9] + [7])


def test_short_text_alone_or_beside_a_600_token_text(tiny_predictor):
    short = "a brilliant film"
    long = " ".join(["the", "plot", "was", "dull"] * 150)  # 600 tokens
    alone = tiny_predictor.predict_proba([short])
    together = tiny_predictor.predict_proba([short, long], batch_size=2)
    np.testing.assert_allclose(alone[0], together[0], atol=1e-5)


def test_empty_and_whitespace_texts_get_a_defined_output(tiny_predictor):
    results = tiny_predictor.predict(["", "   \n", "great"])
    assert results[0] == results[1]
    assert results[0]["label"] in ("neg", "pos")
    assert np.isfinite(results[0]["score"])


def test_empty_list_gives_empty_results(tiny_predictor):
    assert tiny_predictor.predict([]) == []
    assert tiny_predictor.predict_proba([]).shape == (0, 2)


def test_non_string_item_names_its_index(tiny_predictor):
    with pytest.raises(DataError, match=r"texts\[2\] is int"):
        tiny_predictor.predict(["good", "bad", 3])
    with pytest.raises(ConfigError, match="batch_size"):
        tiny_predictor.predict(["good"], batch_size=0)


def test_long_and_unusual_texts(tiny_predictor):
    texts = ["great " * 20000, "映画は素晴らしい 😀", 'quotes " and \n newlines', "\x00"]
    probabilities = tiny_predictor.predict_proba(texts)
    assert probabilities.shape == (4, 2) and np.all(np.isfinite(probabilities))


def test_load_errors_name_the_problem(tmp_path, tiny_model_dir):
    with pytest.raises(ModelError, match="does not exist"):
        Predictor.load(tmp_path / "nowhere")
    broken = tmp_path / "broken"
    broken.mkdir()
    with pytest.raises(ModelError, match="config.json is missing"):
        Predictor.load(broken)
    for name in ("config.json", "vocab.txt"):
        (broken / name).write_bytes((tiny_model_dir / name).read_bytes())
    with pytest.raises(ModelError, match="model.keras is missing"):
        Predictor.load(broken)
    (broken / "model.keras").write_bytes(b"not a zip file")
    with pytest.raises(ModelError, match="model.keras does not match the model it was saved "
                                         "with: its size or SHA-256 differs"):
        Predictor.load(broken)
    (broken / "config.json").write_text("{not json")
    with pytest.raises(ModelError, match="config.json is corrupted"):
        Predictor.load(broken)


def copy_model(source, target, *, drop_fingerprints=False):
    """A copy of the model directory ``source`` at ``target``; with ``drop_fingerprints`` its
    config.json lacks the ``files`` entry, as a model written before they were recorded."""
    import shutil

    shutil.copytree(source, target)
    if drop_fingerprints:
        config = json.loads((target / "config.json").read_text())
        del config["files"]
        (target / "config.json").write_text(json.dumps(config))
    return target


def test_config_records_the_size_and_sha256_of_the_files(tiny_model_dir):
    recorded = json.loads((tiny_model_dir / "config.json").read_text())["files"]
    assert set(recorded) == {"model.keras", "vocab.txt"}
    for name, entry in recorded.items():
        data = (tiny_model_dir / name).read_bytes()
        assert entry == {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def test_a_truncated_vocabulary_is_refused_not_read_as_unknown_words(tmp_path, tiny_model_dir):
    model = copy_model(tiny_model_dir, tmp_path / "m")
    lines = (model / "vocab.txt").read_text(encoding="utf-8").splitlines()
    (model / "vocab.txt").write_text("\n".join(lines[:3]) + "\n", encoding="utf-8")
    with pytest.raises(ModelError, match=r"m/vocab.txt does not match the model it was saved "
                                         r"with.*recorded in .*m/config.json"):
        Predictor.load(model)
    # without the recorded digests (an older model), the embedding's size still tells
    old = copy_model(model, tmp_path / "old", drop_fingerprints=True)
    with pytest.raises(ModelError, match=rf"old/vocab.txt holds 3 tokens but the model's "
                                         rf"embedding 'embedding' reads {len(lines)} ids"):
        Predictor.load(old)


def test_swapped_weights_are_refused(tmp_path, tiny_model_dir, tiny_ensemble_dir):
    model = copy_model(tiny_model_dir, tmp_path / "m")
    (model / "model.keras").write_bytes((tiny_ensemble_dir / "model.keras").read_bytes())
    with pytest.raises(ModelError, match="m/model.keras does not match the model"):
        Predictor.load(model)


def test_labels_that_do_not_fit_the_output_are_refused(tmp_path, tiny_model_dir):
    model = copy_model(tiny_model_dir, tmp_path / "m")
    config = json.loads((model / "config.json").read_text())
    config["classifier"]["labels"] = ["neg", "neutral", "pos"]
    config["classifier"]["label_values"] = ["neg", "neutral", "pos"]
    (model / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelError, match=r"m/config.json names 3 labels \(neg, neutral, pos\) "
                                         r"but the model outputs 2 probabilities"):
        Predictor.load(model)


def test_random_bytes_are_not_a_keras_archive(tmp_path, tiny_model_dir):
    model = copy_model(tiny_model_dir, tmp_path / "m", drop_fingerprints=True)
    (model / "model.keras").write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(ModelError, match=r"m/model.keras is not a valid Keras archive "
                                         r"\(not a zip file\)"):
        Predictor.load(model)


def test_undecodable_bytes_become_replacement_characters(tiny_predictor):
    raw = os.fsdecode(b"\xff\xfe bad \xc3\x28 film")  # what sys.argv holds for such bytes
    assert "\udcff" in raw
    cleaned = "\ufffd\ufffd bad \ufffd( film"
    np.testing.assert_array_equal(tiny_predictor.predict_proba([raw, "bad \ud800 film"]),
                                  tiny_predictor.predict_proba([cleaned, "bad \ufffd film"]))
    assert tiny_predictor.predict(raw)["label"] in tiny_predictor.labels
    explanation = tiny_predictor.explain(raw, method="integrated_gradients", steps=4)
    assert len(explanation["tokens"]) == len(explanation["attributions"]) > 0


def test_a_config_json_of_an_older_version_still_loads(tmp_path, tiny_model_dir, tiny_predictor):
    # before the rename, the classifier's dtype policy was saved as "mixed_precision"
    model = copy_model(tiny_model_dir, tmp_path / "m")
    config = json.loads((model / "config.json").read_text())
    config["classifier"]["mixed_precision"] = config["classifier"].pop("dtype_policy")
    (model / "config.json").write_text(json.dumps(config))
    loaded = Predictor.load(model)
    assert loaded.config == tiny_predictor.config
    np.testing.assert_array_equal(loaded.predict_proba(["great fun"]),
                                  tiny_predictor.predict_proba(["great fun"]))


def test_a_directory_of_another_kind_or_an_invalid_configuration_is_refused(tmp_path,
                                                                            tiny_model_dir):
    forecaster = tmp_path / "forecaster"
    forecaster.mkdir()
    (forecaster / "config.json").write_text('{"forecaster": {}}')
    with pytest.raises(ModelError, match=r"forecaster holds no classifier \(its config.json has "
                                         r"no 'classifier' entry\); train one with `sentiment "
                                         r"train`"):
        Predictor.load(forecaster)
    model = copy_model(tiny_model_dir, tmp_path / "m")
    config = json.loads((model / "config.json").read_text())
    config["classifier"]["arch"] = "transformer"
    (model / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelError, match=r"m/config.json is not a valid classifier configuration "
                                         r"\(arch must be one of"):
        Predictor.load(model)


@pytest.mark.parametrize("model_fixture", ["tiny_model_dir", "tiny_ensemble_dir"])
def test_the_fast_forward_pass_predicts_what_the_keras_model_does(model_fixture, request):
    """Predictor runs recurrent models without masks inside the loop (models/inference.py);
    the probabilities equal those of the Keras model run as it is, padding included."""
    fast = Predictor.load(request.getfixturevalue(model_fixture))
    plain = Predictor.load(request.getfixturevalue(model_fixture), fast_inference=False)
    assert fast.fast_inference and not plain.fast_inference
    texts = ["", "superb", "awful boring film " * 40, "great fun but dull", "x " * 700]
    np.testing.assert_allclose(fast.predict_proba(texts, batch_size=2),
                               plain.predict_proba(texts, batch_size=2), atol=1e-5)
