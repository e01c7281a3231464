"""Dispatch demo data: engineers of the operator and three partners, customer sites down to county level, and
work orders in every state.

山东齐鲁云维 keeps 7x24 on-call engineers in 济南, 青岛, 临沂 and 菏泽 for 国网山东省电力公司 (one of them on
leave, one with an expired 电工证); 浙江数联 covers Zhejiang from 杭州 and 宁波; 贵州黔云 and 深圳星图 have one
engineer each; the operator's agent 刘洋 also goes on site in 杭州. 国网山东's sites reach the far east of the
peninsula (威海, 烟台 islands), where no engineer arrives within the 4-hour P1 on-site target: coverage gaps.

Work orders go through the dispatch service at past instants (its clock is set to each step's moment), so
timelines agree: open proposed ones (one from the demo's P1 on-site ticket in 济南), one assigned, one accepted,
one done awaiting the customer's confirmation and one confirmed.

Idempotent: engineers are found by user, sites by customer and name, and work orders are added only when the
demo customers have none.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from huoban.audit.service import record
from huoban.identity.repository import find_org_by_name, find_user_by_email
from huoban.identity.service import actor_for
from huoban.models import (
    Calendar,
    CustomerSite,
    Engineer,
    EngineerAbsence,
    EngineerCertification,
    Organization,
    Region,
    Ticket,
    User,
    WorkOrder,
    utcnow,
)
from huoban.sla.calendar import WorkCalendar, working_seconds
from huoban.sla.store import work_calendar

OPERATOR = "华云伙伴科技有限公司"
QILU = "山东齐鲁云维信息技术服务有限公司"
SHULIAN = "浙江数联系统集成有限公司"
QIANYUN = "贵州黔云数据中心有限公司"
XINGTU = "深圳星图软件股份有限公司"
SGCC = "国网山东省电力公司"
ZJDATA = "浙江省大数据发展管理局"
NBJT = "宁波市交通运输局"
DISPATCHER = "chen.min@huayun-cloud.cn"
AGENT = "liu.yang@huayun-cloud.cn"


@dataclass
class EngineerSpec:
    org: str
    email: str
    name: str  # display name, for users the demo adds
    home: str  # county code
    address: str
    skills: list[str]
    served: list[str]  # division codes; empty = anywhere
    calendar: str = "cn-standard"
    max_per_day: int = 4
    certifications: list[tuple[str, str, int | None]] = field(default_factory=list)  # name, number, days left
    absences: list[tuple[str, int, int, str]] = field(default_factory=list)  # kind, from day, to day, reason


ENGINEERS: list[EngineerSpec] = [
    EngineerSpec(QILU, "hu.bin@qlyunwei.cn", "胡斌", "370102", "济南市历下区解放路 112 号",
                 ["network", "server", "power_scada", "database"], ["370000"], "24x7", 4,
                 [("电工证", "T370102198507", 900), ("HCIE-Routing", "HCIE-33817", 400)]),
    EngineerSpec(QILU, "guo.liang@qlyunwei.cn", "郭亮", "370211", "青岛市黄岛区长江中路 216 号",
                 ["network", "storage", "security", "server"], ["370000"], "24x7", 4,
                 [("CISP", "CNITSEC2019-0451", -40), ("电工证", "T370211199003", 500)]),
    EngineerSpec(QILU, "kong.fan@qlyunwei.cn", "孔凡", "371302", "临沂市兰山区沂蒙路 69 号",
                 ["network", "server", "power", "power_scada"], ["370000"], "24x7", 3,
                 [("电工证", "T371302199211", 700)]),
    EngineerSpec(QILU, "yue.tao@qlyunwei.cn", "岳涛", "371702", "菏泽市牡丹区中华路 1009 号",
                 ["server", "storage", "database", "power"], ["370000"], "24x7", 3,
                 [("电工证", "T371702198812", 300)], [("leave", -1, 3, "年休假")]),
    EngineerSpec(QILU, "ma.xiao@qlyunwei.cn", "马骁", "370181", "济南市章丘区汇泉路 588 号",
                 ["power_scada", "network", "power"], ["370000"], "24x7", 3,
                 [("电工证", "T370181199405", -12)]),
    EngineerSpec(SHULIAN, "sun.peng@zjshulian.com.cn", "孙鹏", "330106", "杭州市西湖区文三路 90 号",
                 ["cloud", "database", "network", "server"], ["330000"], "cn-standard", 4,
                 [("OCP", "OCP-ZJ-20731", 800), ("CISP", "CNITSEC2021-1187", 200)]),
    EngineerSpec(SHULIAN, "wu.di@zjshulian.com.cn", "吴迪", "330203", "宁波市海曙区中山西路 138 号",
                 ["network", "server", "security"], ["330200", "330900"], "cn-standard", 4,
                 [("CISP", "CNITSEC2022-0093", 600)]),
    EngineerSpec(QIANYUN, "luo.cheng@qianyun-idc.cn", "罗成", "520115", "贵阳市观山湖区长岭北路 8 号",
                 ["server", "storage", "power", "cloud"], ["520000"], "24x7", 4,
                 [("电工证", "T520115199107", 1000)]),
    EngineerSpec(XINGTU, "liang.yu@xingtu-soft.cn", "梁宇", "440305", "深圳市南山区科技南十二路 2 号",
                 ["power_scada", "database"], [], "cn-standard", 2,
                 [("PMP", "PMP-2031337", None)], [("training", 6, 9, "调度系统新版本认证培训")]),
    EngineerSpec(OPERATOR, AGENT, "刘洋", "330106", "杭州市西湖区省府路 8 号 数据大楼",
                 ["cloud", "network", "database"], ["330100"], "cn-standard", 2),
]

# customer -> [(site name, county code, address, required skills)]
SITES: dict[str, list[tuple[str, str, str, list[str]]]] = {
    SGCC: [
        ("济南地调调度大楼", "370102", "济南市历下区经十路 15 号", ["power_scada"]),
        ("110kV 港沟变电站", "370112", "济南市历城区港沟街道", ["network"]),
        ("商河县供电公司", "370126", "济南市商河县许商街道", ["network"]),
        ("章丘区供电公司调控中心", "370181", "济南市章丘区明水街道", ["power_scada"]),
        ("青岛西海岸供电中心", "370211", "青岛市黄岛区长江中路 9 号", ["server"]),
        ("平度市供电公司", "370283", "青岛市平度市红旗路 6 号", ["network"]),
        ("临沂地调", "371302", "临沂市兰山区沂蒙路 205 号", ["power_scada"]),
        ("沂水县 220kV 沂水站", "371323", "临沂市沂水县沂城街道", ["power_scada"]),
        ("郯城县供电公司", "371322", "临沂市郯城县郯城街道", ["network"]),
        ("菏泽供电公司信通机房", "371702", "菏泽市牡丹区中华路 1666 号", ["server", "network"]),
        ("曹县供电公司", "371721", "菏泽市曹县青菏街道", ["network"]),
        ("东明县 110kV 东明站", "371728", "菏泽市东明县城关街道", ["power_scada"]),
        ("冠县供电公司", "371525", "聊城市冠县清泉街道", ["network"]),
        ("无棣县供电公司", "371623", "滨州市无棣县棣丰街道", ["network"]),
        ("广饶县供电公司", "370523", "东营市广饶县乐安街道", ["network"]),
        ("招远市供电公司", "370685", "烟台市招远市泉山街道", ["network"]),
        ("长岛县供电公司（海岛）", "370634", "烟台市长岛县南长山街道", ["network", "power"]),
        ("威海地调", "371002", "威海市环翠区新威路 11 号", ["power_scada"]),
        ("荣成市 220kV 石岛站", "371082", "威海市荣成市石岛管理区", ["power_scada"]),
        ("文登区供电公司", "371003", "威海市文登区龙山街道", ["network"]),
    ],
    ZJDATA: [
        ("省公共数据平台主机房", "330106", "杭州市西湖区省府路 8 号 数据大楼", ["cloud", "database"]),
        ("湖州市大数据局节点", "330502", "湖州市吴兴区仁皇山路 1 号", ["network"]),
        ("衢州市政务云节点", "330802", "衢州市柯城区花园街道", ["cloud"]),
        ("丽水市数据中心", "331102", "丽水市莲都区人民街 615 号", ["server"]),
        ("温州市回流库节点", "330302", "温州市鹿城区市府路 500 号", ["database"]),
        ("舟山嵊泗县政务外网节点", "330922", "舟山市嵊泗县菜园镇", ["network"]),
    ],
    NBJT: [
        ("交通指挥中心", "330203", "宁波市海曙区解放北路 91 号", ["network", "server"]),
        ("北仑港区卡口", "330206", "宁波市北仑区新碶街道", ["network"]),
        ("象山县公交调度站", "330225", "宁波市象山县丹东街道", ["network"]),
        ("宁海县交通执法大队", "330226", "宁波市宁海县跃龙街道", ["security"]),
        ("余姚市公交首末站", "330281", "宁波市余姚市阳明街道", ["network"]),
        ("慈溪市交通运输局机房", "330282", "宁波市慈溪市浒山街道", ["server"]),
    ],
}


def _users_from(session: Session, spec: EngineerSpec, org: Organization) -> User | None:
    """The engineer's user; a user the demo adds gets the demo password (the hash of the org's first user)."""
    user = find_user_by_email(session, spec.email)
    if user is not None:
        return user
    template = session.scalar(select(User).where(User.org_id == org.id, User.password_hash.is_not(None))
                              .order_by(User.id))
    if template is None:
        return None
    user = User(org_id=org.id, email=spec.email, display_name=spec.name, role="partner_engineer",
                password_hash=template.password_hash, password_changed_at=utcnow(), is_active=True, failed_logins=0)
    session.add(user)
    session.flush()
    record(session, None, "user.create", "user", user.id, after={"email": user.email, "role": user.role,
                                                                   "org_id": org.id}, actor_label="demo")
    return user


def _engineers(session: Session, orgs: dict[str, Organization], now: datetime) -> dict[str, Engineer]:
    calendars = {c.name: c.id for c in session.scalars(select(Calendar))}
    regions = {r.code: r for r in session.scalars(select(Region).where(Region.code.in_({s.home for s in ENGINEERS})))}
    out: dict[str, Engineer] = {}
    today = now.date()
    for spec in ENGINEERS:
        org = orgs[spec.org]
        user = _users_from(session, spec, org)
        if user is None:
            continue
        engineer = session.scalar(select(Engineer).where(Engineer.user_id == user.id))
        if engineer is None:
            home = regions[spec.home]
            engineer = Engineer(
                user_id=user.id, org_id=org.id, skills=list(spec.skills), home_region_code=home.code,
                home_address=spec.address, home_longitude=home.longitude, home_latitude=home.latitude,
                regions_served=list(spec.served), calendar_id=calendars.get(spec.calendar, calendars["24x7"]),
                max_orders_per_day=spec.max_per_day, is_active=True,
            )
            session.add(engineer)
            session.flush()
            for name, number, days in spec.certifications:
                expires: date | None = today + timedelta(days=days) if days is not None else None
                session.add(EngineerCertification(engineer_id=engineer.id, name=name, number=number,
                                                  expires_on=expires))
            for kind, start, end, reason in spec.absences:
                day = datetime(today.year, today.month, today.day, tzinfo=now.tzinfo)
                session.add(EngineerAbsence(engineer_id=engineer.id, kind=kind, reason=reason,
                                            starts_at=day + timedelta(days=start), ends_at=day + timedelta(days=end)))
            record(session, None, "engineer.create", "engineer", engineer.id,
                   after={"user_id": user.id, "skills": spec.skills, "home_region_code": spec.home},
                   actor_label="demo")
        out[spec.email] = engineer
    session.flush()
    return out


def _sites(session: Session, orgs: dict[str, Organization]) -> dict[tuple[str, str], CustomerSite]:
    codes = {code for rows in SITES.values() for _n, code, _a, _s in rows}
    regions = {r.code: r for r in session.scalars(select(Region).where(Region.code.in_(codes)))}
    out: dict[tuple[str, str], CustomerSite] = {}
    for customer, rows in SITES.items():
        org = orgs[customer]
        existing = {s.name: s for s in session.scalars(select(CustomerSite)
                                                       .where(CustomerSite.customer_org_id == org.id))}
        for name, code, address, skills in rows:
            site = existing.get(name)
            if site is None:
                region = regions[code]
                site = CustomerSite(customer_org_id=org.id, name=name, region_code=code, address=address,
                                    longitude=region.longitude, latitude=region.latitude, required_skills=skills)
                session.add(site)
            out[(customer, name)] = site
    session.flush()
    return out


def load_dispatch_demo(session: Session) -> int:
    """Engineers, customer sites and work orders; returns how many work orders were added."""
    names = (OPERATOR, QILU, SHULIAN, QIANYUN, XINGTU, SGCC, ZJDATA, NBJT)
    orgs = {n: o for n in names if (o := find_org_by_name(session, n)) is not None}
    if len(orgs) != len(names) or find_user_by_email(session, DISPATCHER) is None:
        return 0  # not the demo world
    now = utcnow().replace(microsecond=0)
    engineers = _engineers(session, orgs, now)
    sites = _sites(session, orgs)
    customers = [orgs[n].id for n in (SGCC, ZJDATA, NBJT)]
    if session.scalar(select(func.count()).select_from(WorkOrder).where(WorkOrder.customer_org_id.in_(customers))):
        return 0
    return _work_orders(session, orgs, engineers, sites, now)


def _work_orders(session: Session, orgs: dict[str, Organization], engineers: dict[str, Engineer],
                 sites: dict[tuple[str, str], CustomerSite], now: datetime) -> int:
    """Orders told through the service at past instants, then one planning round so the board shows proposals."""
    from huoban.dispatch import field, orders, service
    from huoban.dispatch.schemas import WorkOrderCreate

    def who(email: str) -> Any:
        user = find_user_by_email(session, email)
        assert user is not None
        return actor_for(user, session.get_one(Organization, user.org_id))

    dispatcher, agent = who(DISPATCHER), who(AGENT)
    customer_admin = who("dong.ming@sd.sgcc.com.cn")
    added = 0

    def planned(customer: str, site: str, title: str, description: str, priority: str, skills: list[str],
                due_in: timedelta | None, at: datetime, kind: str = "maintenance",
                start: datetime | None = None) -> WorkOrder:
        nonlocal added
        s = sites[(customer, site)]
        with _clock(service, at):
            order = orders.create_work_order(session, dispatcher, WorkOrderCreate(
                customer_org_id=orgs[customer].id, site_id=s.id, title=title, description=description,
                kind=kind, priority=priority, required_skills=skills,
                arrival_due_at=at + due_in if due_in else None, earliest_start_at=start or at,
            ))
        added += 1
        return order

    def visit(order: WorkOrder, email: str, at: datetime, steps: list[tuple[str, int]], notes: str = "") -> None:
        """Assign `email`'s engineer at `at`, then each (step, minutes after `at`) as the engineer."""
        engineer = engineers[email]
        with _clock(service, at):
            service.assign(session, dispatcher, order.id, engineer.id, None)
        person = who(email)
        for step, minutes in steps:
            moment = at + timedelta(minutes=minutes)
            with _clock(service, moment):
                if step == "check_out":
                    field.check_out(session, person, order.id, notes)
                else:
                    getattr(field, step)(session, person, order.id)

    # from the demo's P1 ticket: 济南地调's front-end processors lost contact with 14 substations
    ticket = session.scalar(select(Ticket).where(Ticket.title == "济南地调调度自动化前置机通信中断",
                                                 Ticket.customer_org_id == orgs[SGCC].id))
    if ticket is not None and ticket.status not in ("resolved", "closed"):
        with _clock(service, ticket.created_at + timedelta(minutes=12)):
            orders.create_work_order(session, agent, WorkOrderCreate(
                ticket_id=ticket.id, required_skills=["power_scada", "network"],
                description="2 号前置机与 14 个变电站 104 规约通信中断，需到调度大楼 3 层机房现场排查通道板卡。",
            ))
        added += 1
    planned(SGCC, "沂水县 220kV 沂水站", "沂水站远动装置年度巡检",
            "按年度检修计划巡检远动装置与调度数据网设备，需停用一路通道约 1 小时。", "P3", ["power_scada"],
            timedelta(days=2), now - timedelta(hours=3))
    planned(SGCC, "荣成市 220kV 石岛站", "石岛站调度数据网交换机告警",
            "调度数据网Ⅱ区交换机电源模块告警，冗余电源失效，需尽快上门更换。", "P2", ["power_scada"],
            timedelta(hours=4), now - timedelta(minutes=40), kind="repair")
    planned(NBJT, "象山县公交调度站", "象山公交调度站视频会商终端安装",
            "为县公交调度站安装视频会商终端并接入市局会商系统。", "P3", ["network"], timedelta(days=1),
            now - timedelta(hours=2), kind="installation")
    # assigned, not yet accepted; accepted, not yet on the way. 孙鹏 and 吴迪 keep office hours, so the visits
    # are for the next working day's late morning that is at least an hour away, whatever the hour now.
    office = work_calendar(session, engineers["sun.peng@zjshulian.com.cn"].calendar_id)
    slot = _next_working_at(office, now + timedelta(hours=1), 11)
    order = planned(ZJDATA, "湖州市大数据局节点", "湖州节点核心交换机板卡更换",
                    "核心交换机 3 号业务板卡故障灯常亮，已备件到位。", "P3", ["network"],
                    slot + timedelta(hours=4) - (now - timedelta(hours=5)), now - timedelta(hours=5), kind="repair",
                    start=slot)
    visit(order, "sun.peng@zjshulian.com.cn", now - timedelta(hours=4), [])
    order = planned(NBJT, "北仑港区卡口", "北仑港区卡口抓拍相机网络中断",
                    "3 号卡口 4 台抓拍相机离线，疑似光纤收发器故障。", "P2", ["network"],
                    slot + timedelta(hours=6) - (now - timedelta(hours=3)), now - timedelta(hours=3), kind="repair",
                    start=slot + timedelta(minutes=30))
    visit(order, "wu.di@zjshulian.com.cn", now - timedelta(hours=2, minutes=30), [("engineer_accept", 10)])
    # done yesterday, waiting for the customer's confirmation
    order = planned(SGCC, "青岛西海岸供电中心", "西海岸供电中心服务器硬盘更换",
                    "营销前置服务器 RAID1 中 1 块硬盘预测性故障。",
                    "P3", ["server"], timedelta(hours=8), now - timedelta(days=1, hours=6), kind="repair")
    visit(order, "guo.liang@qlyunwei.cn", now - timedelta(days=1, hours=5),
          [("engineer_accept", 5), ("start_travel", 30), ("check_in", 75), ("check_out", 150)],
          "更换 2 号槽位硬盘（序列号 WX12D83K），RAID 重建完成，状态正常；旧盘已带回。")
    # done three days ago and confirmed by the customer
    order = planned(SGCC, "临沂地调", "临沂地调 UPS 电池组更换", "UPS 电池组内阻超标，按计划更换 32 节电池。",
                    "P3", ["power", "power_scada"], timedelta(hours=24), now - timedelta(days=3, hours=8))
    visit(order, "kong.fan@qlyunwei.cn", now - timedelta(days=3, hours=7),
          [("engineer_accept", 10), ("start_travel", 60), ("check_in", 90), ("check_out", 330)],
          "更换 32 节 12V 100Ah 电池，放电测试 30 分钟合格，旧电池交供电公司回收。")
    with _clock(service, now - timedelta(days=2)):
        field.confirm_visit(session, customer_admin, order.id, 5, "按时到场，更换后放电测试合格，很专业。")
    # the first round of the day: the board opens with proposals to accept, change or reject
    service.plan_round(session, dispatcher, now)
    session.flush()
    return added


def _next_working_at(cal: WorkCalendar, after: datetime, hour: int) -> datetime:
    """`hour`:00 local time on the first working day whose `hour`:00 is at or after `after`."""
    zone = ZoneInfo(cal.timezone)
    day = after.astimezone(zone).date()
    while True:
        start = datetime(day.year, day.month, day.day, tzinfo=zone)
        if working_seconds(cal, start, start + timedelta(days=1)) > 0 and start.replace(hour=hour) >= after:
            return start.replace(hour=hour).astimezone(UTC)
        day += timedelta(days=1)


@contextmanager
def _clock(module: Any, moment: datetime) -> Iterator[None]:
    """Run the module's service calls as if it were `moment` (the demo retells past days)."""
    original = module.utcnow
    module.utcnow = lambda: moment
    try:
        yield
    finally:
        module.utcnow = original
