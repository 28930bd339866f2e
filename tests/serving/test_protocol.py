"""Request bodies: size limit, JSON, the shapes of ours and of TensorFlow Serving's."""

import asyncio
import base64

import pytest

from sentiment.serving.protocol import (
    RequestError,
    parse_json,
    parse_predict_body,
    parse_tf_serving_body,
    read_body,
)


def refused(function, *args) -> RequestError:
    with pytest.raises(RequestError) as caught:
        function(*args)
    return caught.value


def test_predict_body_shapes():
    assert parse_predict_body({"texts": ["a", "b"]}) == (["a", "b"], False)
    assert parse_predict_body({"texts": []}) == ([], False)
    assert parse_predict_body({"text": "a"}) == (["a"], True)
    for payload, status, words in [
            ([1], 400, "JSON object"), ("texts", 400, "JSON object"),
            ({}, 400, "exactly one"), ({"text": "a", "texts": ["b"]}, 400, "exactly one"),
            ({"texts": "a"}, 400, "texts must be an array"),
            ({"texts": {"a": 1}}, 400, "texts must be an array"),
            ({"txt": "a"}, 400, "unknown field 'txt'"),
            ({"texts": ["a", "b", 3]}, 422, "texts[2] is number, not a string"),
            ({"texts": ["a", None]}, 422, "texts[1] is null"),
            ({"texts": [["a"]]}, 422, "texts[0] is array"),
            ({"text": 5}, 422, "text is number, not a string")]:
        error = refused(parse_predict_body, payload)
        assert error.status == status and words in error.message, (payload, error.message)


def test_json_errors_are_400():
    assert parse_json(b'{"texts": ["\\u00e9"]}') == {"texts": ["é"]}
    assert parse_json('{"text": "é"}'.encode("utf-16")) == {"text": "é"}  # BOM: UTF-16
    for body, words in [(b"", "empty"), (b"  \n", "empty"), (b"{", "not valid JSON"),
                        (b"\xff\xfe\xfd", "not"), (b"[" * 100_000, "")]:
        error = refused(parse_json, body)
        assert error.status == 400 and words in error.message


def test_body_size_limit():
    async def chunks(*parts):
        for part in parts:
            yield part

    async def read(parts, length, limit):
        return await read_body(chunks(*parts), length, limit)

    assert asyncio.run(read([b"ab", b"cd"], "4", 4)) == b"abcd"
    for parts, length in [([b"abcde"], "5"), ([b"ab", b"cd", b"e"], None),
                          ([b"ab"], "10")]:  # a declared length over the limit: unread
        with pytest.raises(RequestError) as caught:
            asyncio.run(read(parts, length, 4))
        assert caught.value.status == 413 and "4 bytes" in caught.value.message
    with pytest.raises(RequestError) as caught:
        asyncio.run(read([b"ab"], "two", 4))
    assert caught.value.status == 400


def test_tf_serving_bodies():
    b64 = base64.b64encode("été".encode()).decode()
    assert parse_tf_serving_body({"instances": ["a", {"b64": b64}, {"texts": "c"},
                                                {"texts": {"b64": b64}}]}) == \
        (["a", "été", "c", "été"], False)
    assert parse_tf_serving_body({"signature_name": "serving_default",
                                  "inputs": ["a", "b"]}) == (["a", "b"], True)
    assert parse_tf_serving_body({"signature_name": "serve",
                                  "inputs": {"texts": ["a"]}}) == (["a"], True)
    invalid_utf8 = base64.b64encode(b"ok\xff").decode()
    assert parse_tf_serving_body({"instances": [{"b64": invalid_utf8}]})[0] == ["ok\ufffd"]
    for payload, status, words in [
            ([], 400, "JSON object"), ({}, 400, "exactly one"),
            ({"instances": ["a"], "inputs": ["a"]}, 400, "exactly one"),
            ({"instances": "a"}, 400, "instances must be an array"),
            ({"inputs": "a"}, 400, "inputs must be an array"),
            ({"inputs": {"x": ["a"]}}, 400, "'texts'"),
            ({"instances": [{"x": "a"}]}, 400, "instances[0]"),
            ({"signature_name": "other", "instances": ["a"]}, 400, "signature_name 'other'"),
            ({"instances": ["a"], "extra": 1}, 400, "unknown field 'extra'"),
            ({"instances": ["a", 2]}, 422, "instances[1] is number, not a string"),
            ({"inputs": {"texts": ["a", False]}}, 422, "inputs.texts[1] is boolean"),
            ({"instances": [{"b64": "%%%"}]}, 422, "instances[0].b64 is not valid base64")]:
        error = refused(parse_tf_serving_body, payload)
        assert error.status == status and words in error.message, (payload, error.message)
