"""`huoban regions find`, run as a real command against a freshly migrated database."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import cli_env


def run_find(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "huoban", "regions", "find", *args],
        env=cli_env(database_url), capture_output=True, text=True, encoding="utf-8", timeout=120,
    )


def test_find_prints_the_match_and_its_children(fresh_database_url: str) -> None:
    result = run_find(fresh_database_url, "宁波")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "330200" in out and "宁波市" in out
    assert "330203" in out and "海曙区" in out
    assert out.index("330200") < out.index("330203")


def test_find_json(fresh_database_url: str) -> None:
    result = run_find(fresh_database_url, "宁波", "--limit", "2", "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert len(rows) == 2
    first = rows[0]
    assert set(first) == {
        "code", "name", "full_name", "level", "parent_code", "longitude", "latitude", "children",
    }
    assert (first["code"], first["name"], first["level"]) == ("330200", "宁波市", "city")
    assert first["parent_code"] == "330000"
    assert {"code": "330203", "name": "海曙区"} in first["children"]
    assert "宁波市" in result.stdout  # not \u-escaped


def test_find_by_code(fresh_database_url: str) -> None:
    result = run_find(fresh_database_url, "110000", "--json")
    assert result.returncode == 0, result.stderr
    [beijing] = json.loads(result.stdout)
    names = [c["name"] for c in beijing["children"]]
    assert "海淀区" in names and "市辖区" not in names


def test_find_nothing_exits_1_with_one_line(fresh_database_url: str) -> None:
    result = run_find(fresh_database_url, "不存在的地方")
    assert result.returncode == 1
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1


def test_find_bad_input_exits_1_with_one_line(fresh_database_url: str) -> None:
    for args in (("   ",), ("宁" * 51,), ("宁波", "--limit", "0")):
        result = run_find(fresh_database_url, *args)
        assert result.returncode == 1, args
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error:"), (args, result.stderr)
