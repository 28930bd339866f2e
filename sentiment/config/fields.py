"""Settings: dataclass fields that carry their own help, choices and range.

:func:`setting` is :func:`dataclasses.field` with metadata (as ``HfArgumentParser`` builds
argparse options from dataclass fields). The metadata is read in two places, so a setting is
declared once: :func:`check_settings` validates a configuration on construction
(:class:`~sentiment.errors.ConfigError` naming the field and the value) and
:mod:`sentiment.cli.dataclass_options` turns every setting into a click option (``--name``,
its type, range, choices, default and help). :class:`ConfigBase` gives every configuration
``to_dict``, ``from_dict`` and ``replace``. Pure Python.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from typing import Any, ClassVar, Mapping, TypeVar

from ..errors import ConfigError

#: Help of ``--ensemble`` (``ClassifierConfig.ensemble``, ``ForecasterConfig.ensemble``).
ENSEMBLE_HELP = ("Train N models with seeds SEED, SEED+1, ... and average their predictions "
                 "(N times the training and prediction time).")
#: Help of ``--seed`` (``TrainingConfig.seed``, ``ForecastTrainingConfig.seed``).
SEED_HELP = "Seed for shuffling, splits and weight initialisation."


def setting(default: Any, *, help: str | None = None, choices: tuple | None = None,
            min: float | None = None, max: float | None = None, min_open: bool = False,
            max_open: bool = False, item: str | None = None, metavar: str | None = None,
            option: str | None = None, negative: str | bool = True,
            flag_values: tuple[Any, Any] | None = None, cli: bool = True) -> Any:
    """A dataclass field with its default and what the command line and validation need.

    Args:
        default: the default value (immutable: tuples, not lists).
        help: the option's help text.
        choices: the allowed values (a ``str`` setting).
        min, max, min_open, max_open: the allowed range of a number, or of each number of a
            tuple of integers; written as given in ``--help`` (``0.0`` shows ``x>=0.0``).
        item: what one number of a tuple setting is called in errors (``kernel size``).
        metavar: the option's metavar (``EPSILON``).
        option: the option's name when it is not ``--`` + the field name with dashes.
        negative: for a ``bool`` setting, the name of the off switch (``--channel-mixing``);
            ``True`` for ``--no-NAME``, ``False`` for a plain flag (off by default).
        flag_values: ``(on, off)``: the setting is an on/off switch on the command line that
            stands for these two values (``calendar``: ``(None, ())``).
        cli: ``False`` for settings that are validated but filled in by the program, not
            given on the command line.
    """
    metadata = {"help": help, "choices": choices, "min": min, "max": max,
                "min_open": min_open, "max_open": max_open, "item": item, "metavar": metavar,
                "option": option, "negative": negative, "flag_values": flag_values,
                "cli": cli}
    return dataclasses.field(default=default, metadata={"setting": True, **metadata})


def settings(config_class: type) -> list[dataclasses.Field]:
    """The fields of ``config_class`` declared with :func:`setting`, in definition order."""
    return [f for f in dataclasses.fields(config_class) if f.metadata.get("setting")]


@functools.lru_cache(maxsize=None)
def _hints(config_class: type) -> dict[str, Any]:
    return typing.get_type_hints(config_class)


def value_type(config_class: type, name: str) -> tuple[type, type | None]:
    """``(type, item type)`` of a field, ``None`` removed: ``(int, None)`` for ``int | None``,
    ``(tuple, int)`` for ``tuple[int, ...]``."""
    hint = _hints(config_class)[name]
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        hint = next(arg for arg in typing.get_args(hint) if arg is not type(None))
    if typing.get_origin(hint) is tuple:
        return tuple, typing.get_args(hint)[0]
    return hint, None


def describe_range(meta: Mapping[str, Any]) -> str:
    """``>= 1``, ``> 0``, ``in [0, 1)``, ``in (0, 1)``, ``<= 5`` ... (empty without bounds)."""
    low, high = meta.get("min"), meta.get("max")
    if low is not None and high is not None:
        return (f"in {'(' if meta.get('min_open') else '['}{low:g}, "
                f"{high:g}{')' if meta.get('max_open') else ']'}")
    if low is not None:
        return f"{'>' if meta.get('min_open') else '>='} {low:g}"
    if high is not None:
        return f"{'<' if meta.get('max_open') else '<='} {high:g}"
    return ""


def in_range(value: float, meta: Mapping[str, Any]) -> bool:
    low, high = meta.get("min"), meta.get("max")
    if low is not None and not (value > low if meta.get("min_open") else value >= low):
        return False
    return high is None or (value < high if meta.get("max_open") else value <= high)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_settings(config: Any) -> None:
    """Validate the settings of the dataclass instance ``config`` against their metadata.

    Tuple settings are stored as tuples. ``None`` is accepted where it is the default.

    Raises:
        ConfigError: ``NAME must be one of A, B; received 'x'``, ``NAME must be an integer
            >= 1; received 0``, ``NAME must be in [0, 1); received 1.0`` ...
    """
    for f in settings(type(config)):
        name, meta, value = f.name, f.metadata, getattr(config, f.name)
        if value is None and f.default is None:
            continue
        kind, item_kind = value_type(type(config), name)
        bounds = describe_range(meta)
        if meta["choices"] is not None and value not in meta["choices"]:
            raise ConfigError(f"{name} must be one of {', '.join(meta['choices'])}; received "
                              f"{value!r}")
        if kind is tuple:
            if isinstance(value, (str, bytes)) or not isinstance(value, typing.Iterable):
                raise ConfigError(f"{name} must be a sequence; received {value!r}")
            value = tuple(value)
            object.__setattr__(config, name, value)
            if item_kind is int and bounds:
                if not value:
                    raise ConfigError(f"{name} must be a non-empty sequence of integers "
                                      f"{bounds}; received {value!r}")
                for number in value:
                    if not _is_int(number) or not in_range(number, meta):
                        raise ConfigError(f"each {meta['item'] or 'item of ' + name} must be "
                                          f"an integer {bounds}; received {number!r}")
        elif kind is int and bounds:
            if not _is_int(value) or not in_range(value, meta):
                raise ConfigError(f"{name} must be an integer {bounds}; received {value!r}")
        elif kind is float and bounds:
            if (not isinstance(value, (int, float)) or isinstance(value, bool)
                    or not in_range(value, meta)):
                raise ConfigError(f"{name} must be {bounds}; received {value!r}")


Config = TypeVar("Config", bound="ConfigBase")


class ConfigBase:
    """``to_dict``, ``from_dict`` and ``replace`` for the frozen configuration dataclasses."""

    #: Keys of files written by older versions -> the field that holds them now (read by
    #: :meth:`from_dict` when the new key is absent).
    RENAMED: ClassVar[dict[str, str]] = {}

    def replace(self: Config, **changes: Any) -> Config:
        """A copy with ``changes`` applied (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """The fields as JSON-ready values (tuples as lists)."""
        return {f.name: list(value) if isinstance(value, tuple) else value
                for f in dataclasses.fields(self) for value in [getattr(self, f.name)]}

    @classmethod
    def from_dict(cls: type[Config], data: Mapping[str, Any]) -> Config:
        """Build from a dict (``to_dict``'s, or a ``config.json`` entry), ignoring unknown keys
        written by newer versions and reading renamed keys of older ones.

        Raises:
            ConfigError: when ``data`` is not a mapping or a value is invalid.
            TypeError: when a value has a type the checks do not cover.
        """
        if not isinstance(data, Mapping):
            raise ConfigError(f"expected an object of settings; received {type(data).__name__}")
        data = dict(data)
        for old, new in cls.RENAMED.items():
            if old in data and new not in data:
                data[new] = data.pop(old)
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in names})
