"""Operators several condition types share, with their words for people.

A type lists its own operators (and their words) in the order the builder offers them;
these are the common ones.
"""

from __future__ import annotations

PRESENCE = {"is_set": "is set", "is_not_set": "is not set"}
COMPARISON = {"=": "is", "!=": "is not", ">": "more than", ">=": "at least", "<": "less than", "<=": "at most"}
NO_VALUE_OPERATORS = frozenset(PRESENCE)
# Conditions whose truth changes with the clock alone: their segments are recalculated
# periodically.
RELATIVE_OPERATORS = frozenset({"within_last_days", "more_than_days_ago"})
