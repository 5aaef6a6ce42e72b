"""The engine's errors: one line naming the argument and what to change. Both are ValueErrors;
catch RightsizeError for every one of them (a magic turns it into a UsageError)."""

from __future__ import annotations


class RightsizeError(ValueError):
    """An argument of recommend() that cannot be used."""


class TrafficError(RightsizeError):
    """Traffic that cannot be used (empty, gaps, negative rates, unsorted, wrong columns...)."""
