"""Sequences of vectors (issue 24, work in progress): reading, checking, normalizing and
padding variable-length ``(time, features)`` sequences, and standardizing numeric targets.
Nothing outside this package calls it yet."""
