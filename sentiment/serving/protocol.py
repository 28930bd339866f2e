"""Request bodies: reading them within a size limit, parsing JSON, checking their shape.

Two body formats are understood, both JSON objects:

* ours, ``POST /v1/predict``: ``{"texts": ["...", ...]}`` or ``{"text": "..."}``;
* TensorFlow Serving's REST API, ``POST /v1/models/NAME:predict``: the row format
  ``{"instances": ["...", {"b64": "..."}, {"texts": "..."}, ...]}`` or the columnar format
  ``{"inputs": [...]}`` / ``{"inputs": {"texts": [...]}}``, with an optional
  ``"signature_name"`` (``serving_default`` or ``serve``, the signatures ``sentiment
  export`` writes).

A model over sequences of vectors takes ``{"sequences": [...]}`` / ``{"sequence": [...]}``
and, on the TensorFlow Serving route, its export's inputs ``values`` and ``lengths``
(:func:`parse_tf_serving_sequences`).

Every problem is a :class:`RequestError` carrying the HTTP status and a message naming the
field: 400 for a body that is not JSON or has the wrong shape, 422 for an item that is not a
string (naming its index), 413 for a body over the limit. Nothing a client sends is evaluated
or unpickled: bodies are parsed with :func:`json.loads` only. Pure Python.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any, AsyncIterator, Callable, Mapping

#: The input and output names of the ``serve`` signature of ``sentiment export``.
TF_INPUT = "texts"
TF_SIGNATURES = ("serving_default", "serve")


class RequestError(Exception):
    """A request the server refuses: ``status`` (400, 404, 413, 422, 503...), a message for
    the client and extra response headers."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def _type_name(value: Any) -> str:
    """The JSON type of a parsed value, as a client would call it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


async def read_body(chunks: AsyncIterator[bytes], content_length: str | None,
                    limit: int) -> bytes:
    """The request body, refused with 413 as soon as it exceeds ``limit`` bytes.

    A ``Content-Length`` over the limit is refused before anything is read; a body without
    one (chunked) is counted as it arrives.
    """
    too_large = RequestError(413, f"the request body exceeds the limit of {limit:,} bytes "
                                  "(--max-body-size); send fewer texts per request")
    if content_length is not None:
        try:
            declared = int(content_length)
        except ValueError:
            raise RequestError(400, "invalid Content-Length header") from None
        if declared > limit:
            raise too_large
    parts, size = [], 0
    async for chunk in chunks:
        size += len(chunk)
        if size > limit:
            raise too_large
        parts.append(chunk)
    return b"".join(parts)


def parse_json(body: bytes) -> Any:
    """``body`` parsed as JSON (UTF-8, or UTF-16/32 with a BOM as :func:`json.loads` reads).

    Raises:
        RequestError: 400 when the body is empty, not valid JSON or not decodable.
    """
    if not body.strip():
        raise RequestError(400, 'the request body is empty; send a JSON object such as '
                                '{"texts": ["..."]}')
    try:
        return json.loads(body)
    except json.JSONDecodeError as error:
        raise RequestError(400, f"the request body is not valid JSON: {error}") from None
    except UnicodeDecodeError as error:
        raise RequestError(400, f"the request body is not UTF-8 text: {error}") from None
    except RecursionError:
        raise RequestError(400, "the request body is nested too deeply") from None


def _one_of(payload: Any, fields: dict[str, str], *, example: str, takes: str | None = None,
            optional: Mapping[str, Callable[[Any], None]] | None = None) -> str:
    """The shape both body formats share: ``payload`` is a JSON object, has no field other
    than the two of ``fields`` and those of ``optional``, and exactly one of ``fields``;
    returns the name of the one given.

    Args:
        payload: the parsed body.
        fields: the two alternative fields, each with a description for the messages
            (``{"texts": "an array of strings", "text": "a string"}``).
        example: the accepted bodies, for the message about a body that is not an object.
        takes: the accepted fields, for the message about an unknown field; by default the
            two ``fields`` with their descriptions.
        optional: optional fields, each with a check of its value, run (when the field is
            present) before unknown fields are looked for.

    Raises:
        RequestError: 400 for a body that is not an object (naming its JSON type), the first
            unknown field (in sorted order), or neither or both of ``fields``; whatever an
            ``optional`` check raises.
    """
    if not isinstance(payload, dict):
        raise RequestError(400, f"the body must be a JSON object, {example}; received "
                                f"{_type_name(payload)}")
    optional = optional or {}
    for name, check in optional.items():
        if name in payload:
            check(payload[name])
    described = " or ".join(f'"{name}" ({description})' for name, description in fields.items())
    unknown = sorted(set(payload) - set(fields) - set(optional))
    if unknown:
        raise RequestError(400, f"unknown field {unknown[0]!r}: the body takes "
                                f"{takes or described}")
    first, second = fields
    if (first in payload) == (second in payload):
        raise RequestError(400, f"give exactly one of the fields {described}")
    return first if first in payload else second


@dataclass(frozen=True)
class _PredictBody:
    """What ``POST /v1/predict`` takes for one kind of model: an array of items under
    ``many`` or one item under ``one``, each item a JSON ``item_type``."""

    many: str
    one: str
    item_type: type
    item: str  # one item, for messages: "a string"
    items: str  # the array, for messages: "an array of strings"
    described: dict[str, str]  # each field with its description, for _one_of
    example: str


_PREDICT_BODIES = {
    "texts": _PredictBody("texts", "text", str, "a string", "an array of strings",
                          {"texts": "an array of strings", "text": "a string"},
                          '{"texts": ["..."]} or {"text": "..."}'),
    "sequences": _PredictBody(
        "sequences", "sequence", list, "an array of frames", "an array of sequences",
        {"sequences": "an array of sequences, each an array of frames",
         "sequence": "one sequence, an array of frames"},
        '{"sequences": [[[0.5, 1.0], [0.25, 2.0]]]} or {"sequence": [[0.5, 1.0], [0.25, 2.0]]}'),
}


def parse_predict_body(payload: Any, reads: str = "texts") -> tuple[list, bool]:
    """The items of a ``POST /v1/predict`` body and whether it was a single one.

    Args:
        payload: the parsed body.
        reads: what the model reads: ``"texts"`` (``{"texts": [...]}`` or ``{"text":
            "..."}``) or ``"sequences"`` (``{"sequences": [[[...], ...], ...]}`` or
            ``{"sequence": [[...], ...]}``: each sequence an array of frames, each frame an
            array of numbers, or an array of numbers for a one-feature model). Sequences
            come back as the parsed JSON arrays; their numbers are checked by the model.

    Raises:
        RequestError: 400 naming the field for a wrong shape (not an object, neither or both
            of the two fields, an unknown field, ``texts`` / ``sequences`` not an array); 422
            for an item of the wrong type (``texts[3] is number, not a string``).
    """
    body = _PREDICT_BODIES[reads]
    given = _one_of(payload, body.described, example=body.example)
    if given == body.one:
        item = payload[body.one]
        if not isinstance(item, body.item_type):
            raise RequestError(422, f"{body.one} is {_type_name(item)}, not {body.item}")
        return [item], True
    items = payload[body.many]
    if not isinstance(items, list):
        raise RequestError(400, f"{body.many} must be {body.items}; received "
                                f"{_type_name(items)}")
    return _typed_items(items, body.many, body.item_type, body.item), False


def _typed_items(items: list, field: str, item_type: type, item: str) -> list:
    """``items`` checked to be JSON values of ``item_type``; 422 naming the first index that
    is not (``texts[3] is number, not a string``)."""
    for index, value in enumerate(items):
        if not isinstance(value, item_type):
            raise RequestError(422, f"{field}[{index}] is {_type_name(value)}, not {item}")
    return items


def _array_items(items: list, field: str) -> list:
    """``items`` checked to be JSON arrays (of frames)."""
    return _typed_items(items, field, list, "an array of frames")


def _tf_instances(payload: Any, example: str) -> list | None:
    """The shape of a TensorFlow Serving body: an object with ``instances`` (row format,
    returned: an array) or ``inputs`` (columnar: ``None`` is returned, the caller reads it)
    and an optional ``signature_name``.

    Raises:
        RequestError: 400 for neither or both, an unknown field or signature, or
            ``instances`` that is not an array.
    """
    given = _one_of(payload, {"instances": "row format", "inputs": "columnar format"},
                    example=example, takes='"instances" or "inputs" (and "signature_name")',
                    optional={"signature_name": _check_signature})
    if given == "inputs":
        return None
    instances = payload["instances"]
    if not isinstance(instances, list):
        raise RequestError(400, f"instances must be an array; received "
                                f"{_type_name(instances)}")
    return instances


def _length(value: Any, frames: list, field: str) -> int:
    """A ``lengths`` entry: an integer from 1 to the number of frames given."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise RequestError(422, f"{field} is {_type_name(value)}, not an integer")
    if not 1 <= value <= len(frames):
        raise RequestError(422, f"{field} is {value}; it must be from 1 to the "
                                f"{len(frames)} frames given")
    return value


def _tf_sequence(value: Any, field: str) -> list:
    """A row-format instance of a sequence model: ``{"values": frames, "lengths": n}`` (the
    first ``n`` frames; ``lengths`` optional) or the array of frames alone."""
    if isinstance(value, dict):
        unknown = sorted(set(value) - {"values", "lengths"})
        if unknown or "values" not in value:
            raise RequestError(400, f"{field} must be an array of frames or an object with "
                                    f"the inputs 'values' and 'lengths'; received keys "
                                    f"{sorted(value)!r}")
        frames = _array_items([value["values"]], f"{field}.values")[0]
        if "lengths" in value:
            frames = frames[:_length(value["lengths"], frames, f"{field}.lengths")]
        return frames
    return _array_items([value], field)[0]


def parse_tf_serving_sequences(payload: Any) -> tuple[list, bool]:
    """The sequences of a TensorFlow Serving ``:predict`` body for a model over sequences
    of vectors, as the ``serve`` signature of its export takes them: ``values (batch, time,
    features)`` right-padded, ``lengths (batch,)`` the true frame counts. Returns the
    sequences (each cut to its length) and whether the body used the columnar format.

    Row format: ``{"instances": [{"values": [[...], ...], "lengths": 7}, ...]}`` (or each
    instance the array of frames alone); columnar: ``{"inputs": {"values": [...],
    "lengths": [...]}}`` (or ``{"inputs": values}``, every frame real).

    Raises:
        RequestError: 400 for a wrong shape or an unknown signature; 422 for an item of the
            wrong type or a length outside 1..frames given (naming the field and index).
    """
    instances = _tf_instances(payload, '{"instances": [...]} or {"inputs": {"values": [...], '
                                       '"lengths": [...]}}')
    if instances is not None:
        return [_tf_sequence(value, f"instances[{i}]") for i, value in enumerate(instances)], \
            False
    inputs, lengths = payload["inputs"], None
    if isinstance(inputs, dict):
        unknown = sorted(set(inputs) - {"values", "lengths"})
        if unknown or "values" not in inputs:
            raise RequestError(400, f"inputs must be an array or an object with the inputs "
                                    f"'values' and 'lengths'; received keys {sorted(inputs)!r}")
        inputs, lengths = inputs["values"], inputs.get("lengths")
    if not isinstance(inputs, list):
        raise RequestError(400, f"inputs.values must be an array (batch, time, features); "
                                f"received {_type_name(inputs)}")
    sequences = _array_items(inputs, "inputs.values")
    if lengths is None:
        return sequences, True
    if not isinstance(lengths, list) or len(lengths) != len(sequences):
        raise RequestError(400, f"inputs.lengths must be an array of {len(sequences)} "
                                f"integers, one per sequence")
    return [frames[:_length(n, frames, f"inputs.lengths[{i}]")]
            for i, (frames, n) in enumerate(zip(sequences, lengths))], True


def _tf_string(value: Any, field: str) -> str:
    """One TensorFlow Serving string value: a JSON string, or ``{"b64": "..."}`` (bytes,
    decoded as UTF-8 with invalid sequences read as U+FFFD, as the exported model does)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and set(value) == {"b64"}:
        encoded = value["b64"]
        if not isinstance(encoded, str):
            raise RequestError(422, f"{field}.b64 is {_type_name(encoded)}, not a string")
        try:
            data = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise RequestError(422, f"{field}.b64 is not valid base64") from None
        return data.decode("utf-8", errors="replace")
    raise RequestError(422, f"{field} is {_type_name(value)}, not a string")


def _tf_instance(value: Any, field: str) -> str:
    """A row-format instance: a string, ``{"b64": ...}``, or ``{"texts": string}``."""
    if isinstance(value, dict) and set(value) != {"b64"}:
        if set(value) != {TF_INPUT}:
            raise RequestError(400, f"{field} must be a string or an object with the one "
                                    f"input {TF_INPUT!r}; received keys "
                                    f"{sorted(value)!r}")
        return _tf_string(value[TF_INPUT], f"{field}.{TF_INPUT}")
    return _tf_string(value, field)


def _check_signature(signature: Any) -> None:
    """A ``signature_name``: ``null`` or one of :data:`TF_SIGNATURES`; 400 otherwise."""
    if signature is not None and signature not in TF_SIGNATURES:
        raise RequestError(400, f"signature_name {signature!r} not found: this model has "
                                f"{' and '.join(TF_SIGNATURES)}")


def parse_tf_serving_body(payload: Any) -> tuple[list[str], bool]:
    """The texts of a TensorFlow Serving ``:predict`` body and whether it used the columnar
    (``"inputs"``) format.

    Raises:
        RequestError: 400 for a wrong shape or an unknown signature, 422 for an item that is
            not a string (naming its index).
    """
    instances = _tf_instances(payload, '{"instances": [...]} or {"inputs": [...]}')
    if instances is not None:
        return [_tf_instance(value, f"instances[{i}]") for i, value in enumerate(instances)], \
            False
    inputs, field = payload["inputs"], "inputs"
    if isinstance(inputs, dict):
        if set(inputs) != {TF_INPUT}:
            raise RequestError(400, f"inputs must be an array or an object with the one input "
                                    f"{TF_INPUT!r}; received keys {sorted(inputs)!r}")
        inputs, field = inputs[TF_INPUT], f"inputs.{TF_INPUT}"
    if not isinstance(inputs, list):
        raise RequestError(400, f"{field} must be an array of strings (input {TF_INPUT!r} has "
                                f"shape (batch,)); received {_type_name(inputs)}")
    return [_tf_string(value, f"{field}[{i}]") for i, value in enumerate(inputs)], True
