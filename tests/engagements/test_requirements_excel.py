"""Requirement items from and to .xlsx: bilingual headers, every bad row named with nothing written, and an
export that re-imports to the identical item set."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from huoban.engagements.excel import RowErrors, read_items
from huoban.errors import Invalid
from huoban.models import RequirementVersion
from tests.engagements.test_requirements import ITEMS, call, make_engagement, propose

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def sheet(rows: list[list[Any]]) -> bytes:
    book = Workbook()
    ws = book.active
    assert ws is not None
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def truncated_sheet() -> bytes:
    """A well-formed zip whose sheet1.xml stops mid-element: the XML parser fails only while the rows are read."""
    source = zipfile.ZipFile(io.BytesIO(sheet([["标题"], *[[f"需求{i}"] for i in range(50)]])))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                content = content[:len(content) // 2]
            target.writestr(info, content)
    return out.getvalue()


def upload(client, world, eid: int, content: bytes, actor: str = "customer_a_admin", expect: int = 201,  # type: ignore[no-untyped-def]
           **kwargs: Any) -> Any:
    return call(client, world, actor, "POST", f"/{eid}/requirements/import", expect,
                files={"file": ("需求.xlsx", content, XLSX)}, **kwargs)


def versions(db) -> int:  # type: ignore[no-untyped-def]
    return db.scalar(select(func.count()).select_from(RequirementVersion))


def test_import_reads_chinese_headers_and_priorities(client, world, db):
    engagement = make_engagement(db, world)
    data = sheet([["编号", "标题", "描述", "验收标准", "优先级"],
                  [None, "单点登录", "员工用企业微信登录", "十名员工试用通过", "必须"],
                  [None, None, None, None, None],
                  [None, "报表导出", None, None, "可以"],
                  [None, "审计日志", None, None, None]])
    version = upload(client, world, engagement.id, data, data={"note": "客户邮件"})
    assert (version["number"], version["status"], version["note"]) == (1, "submitted", "客户邮件")
    assert [(i["key"], i["title"], i["priority"]) for i in version["items"]] == [
        ("R-1", "单点登录", "must"), ("R-2", "报表导出", "could"), ("R-3", "审计日志", "should")]


def test_import_rejects_a_bad_file_naming_every_row_and_writes_nothing(client, world, db):
    engagement = make_engagement(db, world)
    data = sheet([["Key", "Title", "Description", "Acceptance criteria", "Priority"],
                  ["R-1", "Login", None, None, "must"],
                  ["R-1", "Login again", None, None, "must"],
                  [None, None, "no title", None, "should"],
                  [None, "Reports", None, None, "urgent"],
                  ["7", "x" * 201, None, None, "could"]])
    body = upload(client, world, engagement.id, data, expect=422)
    bad = sorted((e["row"], e["field"]) for e in body["errors"])
    assert bad == [(3, "key"), (4, "title"), (5, "priority"), (6, "key"), (6, "title")]
    assert "nothing was imported" in body["detail"]
    assert versions(db) == 0

    for content in (b"not a spreadsheet", b"PK\x03\x04 broken zip", sheet([["名称", "说明"], ["a", "b"]]),
                     sheet([["标题"]]), truncated_sheet()):
        body = upload(client, world, engagement.id, content, expect=422)
        assert body["errors"][0]["field"] == "file"
    too_big = b"PK\x03\x04" + b"0" * (1024 * 1024)
    # 413 from the request body limit until app.py's UPLOAD_LIMITS lets ~1.1 MB through to this path; then 422
    response = world.call(client, "POST", f"/api/v1/engagements/{engagement.id}/requirements/import",
                          "customer_a_admin", files={"file": ("a.xlsx", too_big, XLSX)})
    assert response.status_code in (413, 422)
    with pytest.raises(Invalid, match="larger than 1 MB"):
        read_items(too_big, {})
    with pytest.raises(Invalid, match="Not a readable .xlsx file"):
        read_items(truncated_sheet(), {})
    assert versions(db) == 0


def test_import_follows_the_same_permissions_and_rules_as_proposing(client, world, db):
    engagement = make_engagement(db, world)
    data = sheet([["标题"], ["单点登录"]])
    upload(client, world, engagement.id, data, actor="customer_a_member", expect=403)
    upload(client, world, engagement.id, b"junk", actor="customer_a_member", expect=403)
    world.check(client, "POST", f"/api/v1/engagements/{engagement.id}/requirements/import",
                {"customer_b_admin": 404, "partner_a_admin": 404, "anonymous": 401},
                files={"file": ("a.xlsx", data, XLSX)})
    first = upload(client, world, engagement.id, data, headers={"Idempotency-Key": "imp-1"})
    again = upload(client, world, engagement.id, data, headers={"Idempotency-Key": "imp-1"})
    assert again == first and versions(db) == 1


def test_export_then_import_gives_the_identical_item_set(client, world, db):
    engagement = make_engagement(db, world)
    owners = [world.users[u].id for u in ("operator_agent", "customer_a_member", "partner_a_engineer")]
    items = [{**item, "owner_id": owner} for item, owner in zip(ITEMS, owners, strict=True)]
    items.append({"title": "=SUM(A1:A2)", "description": "公式不应执行\n第二行", "priority": "must"})
    v1 = propose(client, world, engagement.id, items)
    assert [i["owner_id"] for i in v1["items"]] == [*owners, None]
    response = call(client, world, "customer_a_member", "GET", f"/{engagement.id}/requirements/1/export.xlsx")
    assert response.headers["content-type"] == XLSX
    book = load_workbook(io.BytesIO(response.content))
    ws = book.active
    assert ws is not None
    assert [c.value for c in ws[1]] == ["编号/key", "标题/title", "描述/description",
                                        "验收标准/acceptance criteria", "优先级/priority", "负责人/owner"]
    assert [ws.cell(row, 6).value for row in range(2, 6)] == [
        "operator_agent@world.test", "customer_a_member@world.test", "partner_a_engineer@world.test", None]
    assert ws["B5"].data_type == "s"  # text, not a formula

    v2 = upload(client, world, engagement.id, response.content)
    assert v2["number"] == 2
    assert v2["items"] == v1["items"]
    diff = call(client, world, "operator_admin", "GET", f"/{engagement.id}/requirements/diff?from=1&to=2")
    assert diff["added"] == diff["removed"] == diff["changed"] == diff["reordered"] == []
    with pytest.raises(RowErrors) as refused:  # owners nobody can resolve are row errors, not dropped
        read_items(response.content, {})
    assert [(e["row"], e["field"]) for e in refused.value.errors] == [(2, "owner"), (3, "owner"), (4, "owner")]


def test_an_owner_the_import_cannot_resolve_is_a_row_error(client, world, db):
    engagement = make_engagement(db, world)
    data = sheet([["标题", "负责人"], ["单点登录", "OPERATOR_AGENT@world.test"],
                  ["报表", "customer_b_admin@world.test"], ["审计", "nobody@example.com"]])
    body = upload(client, world, engagement.id, data, expect=422)
    assert [(e["row"], e["field"]) for e in body["errors"]] == [(3, "owner"), (4, "owner")]
    assert versions(db) == 0
    good = upload(client, world, engagement.id, sheet([["标题", "负责人"], ["单点登录", "OPERATOR_AGENT@world.test"]]))
    assert [i["owner_id"] for i in good["items"]] == [world.users["operator_agent"].id]



def test_every_error_of_a_row_is_reported(client, world, db):
    engagement = make_engagement(db, world)
    data = sheet([["编号", "标题", "优先级", "负责人"],
                  ["R-1", "单点登录", "必须", None],
                  ["R-1", None, "urgent", "nobody@example.com"],
                  [None, "x" * 201, "緊急", "customer_a_member@world.test"]])
    body = upload(client, world, engagement.id, data, expect=422)
    assert sorted((e["row"], e["field"]) for e in body["errors"]) == [
        (3, "key"), (3, "owner"), (3, "priority"), (3, "title"), (4, "priority"), (4, "title")]
    assert versions(db) == 0
