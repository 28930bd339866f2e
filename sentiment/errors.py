"""Domain errors raised by the library.

The library raises these; the CLI turns them into one-line messages with exit status 2
(``click.UsageError`` style), never a traceback. This module imports nothing heavy.
"""


class SentimentError(Exception):
    """Base class of every error the ``sentiment`` library raises on purpose."""


class DataError(SentimentError, ValueError):
    """Input data is missing, unreadable or malformed (a file, a column, a row, a label)."""


class ModelError(SentimentError):
    """A model directory is missing, incomplete or corrupted, or does not fit the request."""


class ConfigError(SentimentError, ValueError):
    """An option or configuration value is out of range or inconsistent with another."""
