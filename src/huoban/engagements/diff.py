"""The readable difference between two requirement item sets (pure: no database, no I/O).

Items are matched by `key` (R-1, R-2, ...), which follows an item across versions. The result
names the items added and removed, the fields changed on items kept (text fields with a
word-level diff: Chinese cut into words with jieba, Latin text split on spaces and punctuation)
and the items whose order changed relative to the others.
"""

from __future__ import annotations

import logging
import re
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


def _moved(old_keys: Sequence[str], new_keys: Sequence[str]) -> set[str]:
    """Keys kept in both versions that left the longest common order (the ones a reader sees move)."""
    common = set(old_keys) & set(new_keys)
    a = [k for k in old_keys if k in common]
    b = [k for k in new_keys if k in common]
    stayed: set[str] = set()
    for block in SequenceMatcher(None, a, b, autojunk=False).get_matching_blocks():
        stayed.update(a[block.a:block.a + block.size])
    return common - stayed


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
    reordered = [
        {"key": key, "old_position": old_keys.index(key) + 1, "new_position": new_keys.index(key) + 1}
        for key in new_keys if key in moved
    ]
    return {"added": added, "removed": removed, "changed": changed, "reordered": reordered}
