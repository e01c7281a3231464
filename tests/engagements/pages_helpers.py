"""Shared by the engagement page tests (provider and portal): a seeded engagement, signing in as one of the
world's users, and the row counts and statuses a refused request must leave unchanged."""

from __future__ import annotations

import io
from datetime import date
from typing import Any

from fastapi.testclient import TestClient
from openpyxl import Workbook
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from huoban.engagements import requirements, service
from huoban.engagements.requirements_schemas import ItemIn
from huoban.engagements.schemas import ConsultationCreate, EngagementCreate, ParticipantIn, StageIn
from huoban.identity.service import actor_for
from huoban.models import (
    AuditEntry,
    ChangeOrder,
    Consultation,
    ConsultationParticipant,
    Deliverable,
    Engagement,
    EngagementEvent,
    Organization,
    RequirementItem,
    RequirementVersion,
)
from tests.pages import sign_in
from tests.world import World

SECRET_MINUTES = "内部纪要：客户预算可上浮两成-XK47"
SECRET_FOLLOW_UP = "王强私下评估竞争对手报价-QZ19"
ITEMS = [ItemIn(title="单点登录", description="员工用企业微信登录", acceptance_criteria="十名员工试用通过",
                priority="must"),
         ItemIn(title="并发访问", description="系统支持万人并发访问", acceptance_criteria="压测报告"),
         ItemIn(title="报表导出", description="Export monthly reports as PDF.", priority="could")]


def act(db: Session, world: World, name: str) -> Any:
    user = world.users[name]
    return actor_for(user, db.get_one(Organization, user.org_id))


def make_engagement(db: Session, world: World, *, versions: int = 1, stage: str | None = None) -> Engagement:
    """An engagement of customer A with one consultation (internal minutes, effort) and `versions` versions."""
    admin = act(db, world, "operator_admin")
    engagement = service.create_engagement(db, admin, EngagementCreate(
        customer_org_id=world.orgs["customer_a"].id, title="智慧园区访客管理",
        goal="园区访客预约、登记全部上云，手机扫码进门。",
        budget_min_fen=80_000_000, budget_max_fen=150_000_000, industry="government", region_code="330203",
        member_ids=[world.users["operator_admin"].id]))
    service.add_consultation(db, admin, engagement.id, ConsultationCreate(
        kind="workshop", held_on=date(2026, 3, 2), title="需求工作坊", minutes=SECRET_MINUTES,
        follow_ups=SECRET_FOLLOW_UP, participants=[
            ParticipantIn(user_id=world.users["operator_admin"].id, side="provider", effort_minutes=270),
            ParticipantIn(user_id=world.users["customer_a_admin"].id, side="customer")]))
    for n in range(versions):
        items = [i.model_copy(update={"key": f"R-{k + 1}"}) for k, i in enumerate(ITEMS)] if n else ITEMS
        if n:
            items[1] = items[1].model_copy(update={"description": "系统支持两万人并发访问"})
        requirements.propose_version(db, admin, engagement.id, items, f"第 {n + 1} 版")
    if stage is not None:
        customer_admin = act(db, world, "customer_a_admin")
        requirements.sign(db, customer_admin, engagement.id, versions, "同意")
        path = ("consulting", "proposal", "bidding", "won", "delivering")
        for step in path[:path.index(stage) + 1]:
            service.change_stage(db, admin, engagement.id, StageIn(stage=step))  # type: ignore[arg-type]
    db.commit()
    return engagement


def as_user(client: TestClient, world: World, name: str) -> str:
    client.cookies.clear()
    return sign_in(client, world.users[name].email)


def count(db: Session, model: Any, *where: Any) -> int:
    return db.scalar(select(func.count()).select_from(model).where(*where)) or 0


def snapshot(db: Session) -> tuple[int, ...]:
    return tuple(count(db, m) for m in (Engagement, EngagementEvent, Consultation, ConsultationParticipant,
                                        RequirementVersion, RequirementItem, ChangeOrder, Deliverable))


def state(db: Session) -> tuple[Any, ...]:
    """Row counts (audit included) and every status and stage a refused request could have moved."""
    db.expire_all()
    rows = [db.execute(select(*cols).order_by(cols[0])).all() for cols in (
        (Engagement.id, Engagement.stage, Engagement.title, Engagement.owner_id, Engagement.updated_at),
        (RequirementVersion.id, RequirementVersion.status), (ChangeOrder.id, ChangeOrder.status),
        (Deliverable.id, Deliverable.status, Deliverable.score))]
    return snapshot(db), count(db, AuditEntry), *map(tuple, rows)


def xlsx(*titles: str) -> bytes:
    book = Workbook()
    book.active.append(["标题/title", "优先级/priority"])
    for title in titles:
        book.active.append([title, "must"])
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()
