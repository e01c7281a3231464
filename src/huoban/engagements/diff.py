"""The readable difference between two requirement item sets (pure: no database, no I/O).

Items are matched by `key` (R-1, R-2, ...), which follows an item across versions. The result
names the items added and removed, the fields changed on items kept (text fields with a
word-level diff: Chinese cut into words with jieba, Latin text split on spaces and punctuation)
and the items whose order changed relative to the others: the fewest moves that turn the old order
into the new one (the kept items outside a longest increasing subsequence of their old positions).
"""

from __future__ import annotations

import logging
import re
from bisect import bisect_left
from collections.abc import Mapping, Sequence
from difflib import SequenceMatcher
from typing import Any

import jieba

jieba.setLogLevel(logging.WARNING)

TEXT_FIELDS = ("title", "description", "acceptance_criteria")
FIELDS = (*TEXT_FIELDS, "priority", "owner_id")
_TOKEN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+|[^\W_]+|\s+|.", re.UNICODE)
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def tokens(text: str | None) -> list[str]:
    """Words of `text`, keeping spaces and punctuation as their own tokens so the pieces join back exactly."""
    out: list[str] = []
    for match in _TOKEN.finditer(text or ""):
        piece = match.group()
        if _CJK.match(piece):
            out.extend(jieba.lcut(piece, HMM=False))
        else:
            out.append(piece)
    return out


def word_diff(old: str | None, new: str | None) -> list[dict[str, str]]:
    """Segments [{op: equal|insert|delete|replace, old, new}]: the `old` parts join to the old text, `new` to the new.

    Words are compared as units, so a change inside a word shows the whole word replaced."""
    a, b = tokens(old), tokens(new)
    segments: list[dict[str, str]] = []
    for op, i1, i2, j1, j2 in SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        segments.append({"op": op, "old": "".join(a[i1:i2]), "new": "".join(b[j1:j2])})
    return segments


def _longest_increasing(values: Sequence[int]) -> set[int]:
    """Indexes into `values` of one longest strictly increasing subsequence (patience sorting, O(n log n))."""
    tail_values: list[int] = []  # tail_values[k]: the smallest last value of an increasing run of length k + 1
    tail_index: list[int] = []  # ... and its index in `values`
    before = [-1] * len(values)  # the previous index of the run each value ends
    for i, value in enumerate(values):
        k = bisect_left(tail_values, value)
        if k:
            before[i] = tail_index[k - 1]
        if k == len(tail_values):
            tail_values.append(value)
            tail_index.append(i)
        else:
            tail_values[k], tail_index[k] = value, i
    out: set[int] = set()
    i = tail_index[-1] if tail_index else -1
    while i != -1:
        out.add(i)
        i = before[i]
    return out


def _moved(old_keys: Sequence[str], new_keys: Sequence[str]) -> set[str]:
    """Keys kept in both versions that a reader sees move: the fewest, i.e. those outside a longest
    subsequence of kept items whose old order the new version keeps."""
    old_index = {key: i for i, key in enumerate(old_keys)}
    kept = [key for key in new_keys if key in old_index]
    stayed = _longest_increasing([old_index[key] for key in kept])
    return {key for i, key in enumerate(kept) if i not in stayed}


def diff_items(old: Sequence[Mapping[str, Any]], new: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Compare two ordered item lists (mappings with key and the FIELDS) by key."""
    old_by_key = {item["key"]: item for item in old}
    new_by_key = {item["key"]: item for item in new}
    old_keys = [item["key"] for item in old]
    new_keys = [item["key"] for item in new]
    added = [dict(item) for item in new if item["key"] not in old_by_key]
    removed = [dict(item) for item in old if item["key"] not in new_by_key]
    changed: list[dict[str, Any]] = []
    for key in new_keys:
        if key not in old_by_key:
            continue
        before, after = old_by_key[key], new_by_key[key]
        fields: dict[str, Any] = {}
        for name in FIELDS:
            was, now = before.get(name), after.get(name)
            if (was or None) == (now or None):
                continue
            change: dict[str, Any] = {"old": was, "new": now}
            if name in TEXT_FIELDS:
                change["segments"] = word_diff(was, now)
            fields["owner" if name == "owner_id" else name] = change
        if fields:
            changed.append({"key": key, "title": after.get("title"), "fields": fields})
    moved = _moved(old_keys, new_keys)
    old_position = {key: i for i, key in enumerate(old_keys, start=1)}
    reordered = [{"key": key, "old_position": old_position[key], "new_position": position}
                 for position, key in enumerate(new_keys, start=1) if key in moved]
    return {"added": added, "removed": removed, "changed": changed, "reordered": reordered}
