"""The requirement diff on its own: items added, removed, reordered and edited, with word-level segments."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from huoban.engagements.diff import diff_items, tokens, word_diff


def item(key: str, title: str, **fields: object) -> dict[str, object]:
    return {"key": key, "title": title, "description": None, "acceptance_criteria": None, "priority": "should",
            "owner_id": None, **fields}


def joined(segments: list[dict[str, str]], side: str) -> str:
    return "".join(s[side] for s in segments)


def test_chinese_text_is_compared_word_by_word():
    old, new = "系统支持万人并发访问", "系统支持两万人并发访问"
    segments = word_diff(old, new)
    assert joined(segments, "old") == old and joined(segments, "new") == new
    assert segments[0] == {"op": "equal", "old": "系统支持", "new": "系统支持"}
    assert segments[-1] == {"op": "equal", "old": "并发访问", "new": "并发访问"}
    changed = [s for s in segments if s["op"] != "equal"]
    assert len(changed) == 1 and "两" in changed[0]["new"] and "两" not in changed[0]["old"]


def test_latin_text_splits_on_spaces_and_punctuation():
    segments = word_diff("Support 10k users, fast.", "Support 20k users, very fast.")
    assert [(s["op"], s["old"], s["new"]) for s in segments if s["op"] != "equal"] == [
        ("replace", "10k", "20k"), ("insert", "", "very "),
    ]
    assert tokens("登录 via SSO，快。") == ["登录", " ", "via", " ", "SSO", "，", "快", "。"]


def test_mixed_text_and_empty_sides_join_back_exactly():
    for old, new in [("", "新增：支持 LDAP 登录"), ("删除这一段", None), ("a\nb  c", "a\nB  c"),
                     ("响应时间 < 2 秒（P95）", "响应时间 < 1 秒（P99）")]:
        segments = word_diff(old, new)
        assert joined(segments, "old") == (old or "") and joined(segments, "new") == (new or "")


def test_added_removed_reordered_and_edited_items():
    old = [item("R-1", "登录"), item("R-2", "报表", priority="could"),
           item("R-3", "并发", description="系统支持万人并发访问"), item("R-4", "导出")]
    new = [item("R-3", "并发", description="系统支持两万人并发访问"), item("R-1", "登录"),
           item("R-2", "报表", priority="must", owner_id=7), item("R-5", "审计日志")]
    result = diff_items(old, new)

    assert [i["key"] for i in result["added"]] == ["R-5"]
    assert [i["key"] for i in result["removed"]] == ["R-4"]
    assert result["reordered"] == [{"key": "R-3", "old_position": 3, "new_position": 1}]
    changed = {c["key"]: c["fields"] for c in result["changed"]}
    assert set(changed) == {"R-3", "R-2"}
    assert changed["R-2"] == {"priority": {"old": "could", "new": "must"}, "owner": {"old": None, "new": 7}}
    description = changed["R-3"]["description"]
    assert (description["old"], description["new"]) == ("系统支持万人并发访问", "系统支持两万人并发访问")
    assert [s["op"] for s in description["segments"]] == ["equal", "replace", "equal"]


def test_identical_sets_and_blank_versus_missing_text_show_no_change():
    items = [item("R-1", "登录", description=""), item("R-2", "报表")]
    same = [item("R-1", "登录", description=None), item("R-2", "报表")]
    assert diff_items(items, same) == {"added": [], "removed": [], "changed": [], "reordered": []}


def test_a_swap_of_two_items_reports_one_moved():
    result = diff_items([item("R-1", "a"), item("R-2", "b")], [item("R-2", "b"), item("R-1", "a")])
    assert len(result["reordered"]) == 1 and not result["changed"]


def test_the_fewest_moves_are_reported():
    old = [item(f"R-{n}", str(n)) for n in (1, 2, 3, 4)]
    new = [item(f"R-{n}", str(n)) for n in (2, 4, 3, 1)]
    reordered = diff_items(old, new)["reordered"]
    assert len(reordered) == 2  # keep their order; move
    assert apply_moves([i["key"] for i in old], reordered) == [i["key"] for i in new]
    reversed_ = diff_items(old, old[::-1])["reordered"]
    assert len(reversed_) == 3


def lis_length(values: list[int]) -> int:
    """Length of a longest strictly increasing subsequence, by the textbook O(n²) recurrence."""
    best = [1] * len(values)
    for i, value in enumerate(values):
        for j in range(i):
            if values[j] < value:
                best[i] = max(best[i], best[j] + 1)
    return max(best, default=0)


def apply_moves(old_keys: list[str], reordered: list[dict[str, object]], added: tuple[str, ...] = (),
                new_keys: list[str] | None = None) -> list[str]:
    """Turn the old order into the new one with only the reported moves: drop the moved (and removed) keys,
    then put the moved and added ones at their new positions, lowest first."""
    moved = {str(r["key"]): int(str(r["new_position"])) for r in reordered}
    keep = set(new_keys) if new_keys is not None else set(old_keys)
    order = [k for k in old_keys if k in keep and k not in moved]
    placed = dict(moved)
    if new_keys is not None:
        placed.update({k: new_keys.index(k) + 1 for k in added})
    for key, position in sorted(placed.items(), key=lambda kv: kv[1]):
        order.insert(position - 1, key)
    return order


KEYS = [f"R-{n}" for n in range(1, 16)]


@given(st.lists(st.sampled_from(KEYS), unique=True, max_size=15),
       st.lists(st.sampled_from(KEYS), unique=True, max_size=15))
def test_moves_are_the_fewest_and_replay_the_new_order(old_keys, new_keys):
    result = diff_items([item(k, k) for k in old_keys], [item(k, k) for k in new_keys])
    kept = [k for k in new_keys if k in old_keys]
    assert len(result["reordered"]) == len(kept) - lis_length([old_keys.index(k) for k in kept])
    added = tuple(i["key"] for i in result["added"])
    assert apply_moves(old_keys, result["reordered"], added, new_keys) == new_keys
    for r in result["reordered"]:
        assert (r["old_position"], r["new_position"]) == (old_keys.index(r["key"]) + 1,
                                                          new_keys.index(r["key"]) + 1)
