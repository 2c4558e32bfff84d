"""Small helpers for messages: counts with correctly pluralised nouns, articles."""

from __future__ import annotations

__all__ = ["noun", "plural", "article"]

_IRREGULAR = {"pass": "passes", "AD pass": "AD passes", "matrix": "matrices"}


def noun(count: int, singular: str, plural_form: str | None = None) -> str:
    """``singular`` for a count of one, else its plural (``"JVP"`` / ``"JVPs"``)."""
    if int(count) == 1:
        return singular
    if plural_form is not None:
        return plural_form
    return _IRREGULAR.get(singular, singular + "s")


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """``"1 JVP"``, ``"3 JVPs"``, ``"2 AD passes"``: the count and its noun."""
    return f"{int(count):,} {noun(count, singular, plural_form)}"


def article(word: str) -> str:
    """``"a int"`` is wrong: ``article("int") + " int"`` is ``"an int"``."""
    return "an" if word[:1].lower() in "aeiou" else "a"
