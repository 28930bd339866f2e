"""Click options generated from the settings of a configuration dataclass.

Every field declared with :func:`sentiment.config.fields.setting` (and not ``cli=False``)
becomes one option, in field order: ``embedding_dim`` -> ``--embedding-dim``; its type,
``IntRange`` / ``FloatRange`` / ``Choice`` from the metadata; its default from the field
(shown in ``--help``); a ``bool`` as ``--flag/--no-flag``; a tuple of integers as a
comma-separated list (``--kernel-sizes 3,4,5``). The option's parameter is the field's name,
so :func:`config_from_options` builds the configuration from the parsed keyword arguments.
Nothing here imports TensorFlow or numpy.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Mapping

import click

from ..config.fields import settings, value_type


def cli_settings(config_class: type) -> list[dataclasses.Field]:
    """The settings of ``config_class`` given on the command line, in field order."""
    return [f for f in settings(config_class) if f.metadata["cli"]]


def _number_type(kind: type, meta: Mapping[str, Any]):
    bounds = {key: meta[key] for key in ("min", "max") if meta[key] is not None}
    if not bounds:
        return kind
    range_type = click.IntRange if kind is int else click.FloatRange
    return range_type(**bounds, min_open=meta["min_open"], max_open=meta["max_open"])


def _integer_list(minimum: int | None) -> Callable:
    """A click callback: ``"3,4,5"`` -> ``(3, 4, 5)``; a usage error naming the option and the
    value otherwise."""
    def parse(ctx, param, value):
        if isinstance(value, tuple):  # the default
            return value
        try:
            numbers = tuple(int(part) for part in value.split(","))
            if not numbers or (minimum is not None and min(numbers) < minimum):
                raise ValueError
        except ValueError:
            at_least = f" >= {minimum}" if minimum is not None else ""
            raise click.BadParameter(f"expected comma-separated integers{at_least}, received "
                                     f"{value!r}", ctx=ctx, param=param) from None
        return numbers

    return parse


def setting_option(config_class: type, f: dataclasses.Field, **overrides: Any) -> Callable:
    """The click option of the setting ``f`` of ``config_class`` (``overrides``: extra or
    replaced ``click.option`` arguments, such as ``required=True``)."""
    meta = f.metadata
    name = meta["option"] or "--" + f.name.replace("_", "-")
    kind, item_kind = value_type(config_class, f.name)
    kwargs: dict[str, Any] = {"default": f.default, "show_default": True, "help": meta["help"]}
    if meta["metavar"]:
        kwargs["metavar"] = meta["metavar"]
    if meta["flag_values"] is not None:
        on, off = meta["flag_values"]
        negative = "--no-" + name[2:]
        declarations = [f"{name}/{negative}", f.name]
        kwargs["default"] = f.default == on
        kwargs["callback"] = lambda ctx, param, value: on if value else off
    elif kind is bool:
        if meta["negative"] is False:
            declarations = [name, f.name]
            kwargs["is_flag"] = True
        else:
            negative = ("--no-" + name[2:]) if meta["negative"] is True else meta["negative"]
            declarations = [f"{name}/{negative}", f.name]
    else:
        declarations = [name, f.name]
        if meta["choices"] is not None:
            kwargs["type"] = click.Choice(meta["choices"])
        elif kind is tuple and item_kind is int:
            kwargs["default"] = ",".join(map(str, f.default))
            kwargs["callback"] = _integer_list(meta["min"])
        elif kind in (int, float):
            kwargs["type"] = _number_type(kind, meta)
        else:
            kwargs["type"] = str
    kwargs.update(overrides)
    return click.option(*declarations, **kwargs)


def config_options(config_class: type, *, exclude: tuple[str, ...] = (),
                   overrides: Mapping[str, Mapping[str, Any]] | None = None) -> Callable:
    """A decorator adding the options of every command-line setting of ``config_class`` (but
    ``exclude``), in field order.

    Args:
        config_class: a configuration dataclass.
        exclude: settings this command does not offer.
        overrides: per setting, ``click.option`` arguments to change for this command
            (``{"lookback": {"required": True, "default": None}}``).
    """
    overrides = overrides or {}
    unknown = set(overrides) - {f.name for f in cli_settings(config_class)}
    if unknown:
        raise TypeError(f"{config_class.__name__} has no command-line setting "
                        f"{', '.join(sorted(unknown))}")
    options = [setting_option(config_class, f, **overrides.get(f.name, {}))
               for f in cli_settings(config_class) if f.name not in exclude]

    def decorate(command: Callable) -> Callable:
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


def config_from_options(config_class: type, options: dict[str, Any], **values: Any):
    """Build ``config_class`` from the parsed options of its settings, removing them from
    ``options``; ``values`` sets the fields the command fills in itself.

    Raises:
        ConfigError: when a value is invalid or the settings are inconsistent.
    """
    given = {f.name: options.pop(f.name) for f in cli_settings(config_class)
             if f.name in options}
    return config_class(**given, **values)
