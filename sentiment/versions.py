"""The library versions recorded in a model directory's ``config.json`` (``"versions"``)."""

from __future__ import annotations

import importlib
import platform


def library_versions(*extra: str) -> dict[str, str]:
    """Versions of the libraries that define a saved model's behaviour: ``sentiment``,
    ``tensorflow``, the modules named in ``extra`` (``"tensorflow_text"`` for a classifier),
    ``keras``, ``numpy`` and ``python``."""
    from . import __version__

    versions = {"sentiment": __version__}
    for name in ("tensorflow", *extra, "keras", "numpy"):
        versions[name] = importlib.import_module(name).__version__
    versions["python"] = platform.python_version()
    return versions
