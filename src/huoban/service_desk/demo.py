"""Demo tickets: the five demo customers' service desk over the past weeks, in every state.

Each ticket is raised and moved through the service, as its people would have, at past instants: the
service's clock (`service.utcnow`) is set to each step's moment while it runs, so events, timestamps
and SLA clocks agree exactly. 国网山东省电力公司 gets its own default policy, a copy of the seeded
"关键业务 Critical (7x24)" on the 24x7 calendar; the others run on the global default (cn-standard).
Steps on cn-standard are placed in working minutes after the ticket was raised, so whether a clock was
met or breached does not depend on the weekday the demo is loaded; overdue clocks are left for the
worker's sweep, which sends their escalations the first time it runs.

Idempotent: nothing is added when the demo customers already have tickets.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from huoban.identity.repository import find_org_by_name, find_user_by_email
from huoban.identity.service import actor_for
from huoban.models import Organization, SlaPolicy, Ticket, User, utcnow
from huoban.service_desk import service
from huoban.service_desk.schemas import CommentIn, RatingIn, TicketCreate, TicketUpdate, TransitionIn
from huoban.sla.calendar import WorkCalendar, add_working_time, working_seconds
from huoban.sla.store import policy_for_customer, work_calendar

ACCOUNT_MANAGER = "li.jing@huayun-cloud.cn"
AGENT = "liu.yang@huayun-cloud.cn"
DISPATCHER = "chen.min@huayun-cloud.cn"
CRITICAL_POLICY_ID = 2  # seeded by migration 0002: 关键业务 Critical (7x24)
CRITICAL_CUSTOMER = "国网山东省电力公司"
CUSTOMERS = ("浙江省大数据发展管理局", CRITICAL_CUSTOMER, "中原能源集团有限公司", "江南理工大学", "宁波市交通运输局")


@contextmanager
def _service_clock(moment: datetime) -> Iterator[None]:
    """Run service calls as if it were `moment` (the demo retells past days)."""
    original = service.utcnow
    service.utcnow = lambda: moment
    try:
        yield
    finally:
        service.utcnow = original


@dataclass
class Step:
    """One thing that happened: `work` working minutes (or `wall` wall-clock minutes) after the ticket
    was raised, `who` did `what` ("assign", "reply", "note", "status", "arrive", "rate", "attach")."""

    who: str
    what: str
    work: int | None = None
    wall: int | None = None
    args: tuple[Any, ...] = ()


@dataclass
class Story:
    customer: str
    raised_by: str
    title: str
    description: str
    category: str
    priority: str
    site: str
    address: str
    on_site: bool = False
    # when it was raised: `minutes_ago` before loading, or on the working day `workdays_ago` at `hour`
    minutes_ago: int | None = None
    workdays_ago: int = 0
    hour: int = 10
    by_phone: str | None = None  # the agent who took the call
    steps: list[Step] = field(default_factory=list)


def S(who: str, what: str, *args: Any, work: int | None = None, wall: int | None = None) -> Step:  # noqa: N802
    return Step(who, what, work, wall, args)


A, D = AGENT, DISPATCHER

STORIES: list[Story] = [
    # 浙江省大数据发展管理局 (cn-standard)
    Story("浙江省大数据发展管理局", "feng.xiao@zjdata.gov.cn", "数据共享交换平台接口调用超时",
          "今天上午起，省公共数据平台的人口库核验接口平均响应超过 8 秒，部分地市调用方报超时（HTTP 504）。"
          "影响“浙里办”多个事项的在线办理，请尽快排查。", "incident", "P2", "330106",
          "杭州市西湖区省府路 8 号 数据大楼", minutes_ago=20),
    Story("浙江省大数据发展管理局", "han.bing@zjdata.gov.cn", "政务云新增 4 台 8C16G 计算节点申请",
          "因“一网通办”二期上线，需要在政务云专区新增 4 台 8 核 16G 计算节点，系统盘 100G，数据盘 500G，"
          "操作系统麒麟 V10。审批单号 ZJ-YW-2026-1187。", "service_request", "P3", "330106", "",
          workdays_ago=1, hour=14, steps=[
              S(D, "assign", A, work=10),
              S(A, "reply", "已收到申请，正在核对政务云专区资源池余量，预计明天下班前开通并回复登录信息。", work=45),
          ]),
    Story("浙江省大数据发展管理局", "feng.xiao@zjdata.gov.cn", "数据中台夜间 ETL 任务批量失败",
          "凌晨 2 点开始，数据中台共有 37 个 ETL 任务失败，报错为源库连接超时，附件为调度日志。", "fault", "P2",
          "330106", "杭州市西湖区省府路 8 号", workdays_ago=6, steps=[
              S("feng.xiao@zjdata.gov.cn", "attach", "etl-scheduler.log", "text/plain",
                b"2026-11-18 02:00:13 ERROR task ods_rk_jbxx: connect timeout to 10.32.8.15:1521\n",
                work=2),
              S(D, "assign", A, work=5),
              S(A, "reply", "已定位为源库夜间归档与抽取窗口重叠导致锁表，正在与源库管理员协调。", work=25),
              S(A, "status", "in_progress", None, work=30),
              S(A, "note", "源库 DBA 确认可将归档窗口调整到 04:00 之后，今晚生效。", work=60),
              S(A, "reply", "归档窗口已调整，失败任务已全部重跑成功，今晚我们会继续观察。", work=300),
              S(A, "status", "resolved", "归档窗口调整后连续两晚任务全部成功。", work=600),
              S("feng.xiao@zjdata.gov.cn", "rate", 5, "响应及时，处理专业，谢谢！", work=700),
          ]),
    # 国网山东省电力公司 (its own 7x24 policy)
    Story(CRITICAL_CUSTOMER, "yuan.hua@sd.sgcc.com.cn", "济南地调调度自动化前置机通信中断",
          "济南地调 2 号前置机与 14 个变电站的 104 规约通信中断，主站画面数据不刷新，值班员已切换至备用通道。",
          "fault", "P1", "370102", "济南市历下区经十路 15 号 调度大楼 3 层机房", on_site=True, minutes_ago=185,
          by_phone=A, steps=[
              S(D, "assign", A, wall=3),
              S(A, "reply", "已电话联系现场值班员，工程师正赶往调度大楼，预计 1 小时内到达。", wall=8),
              S(A, "status", "in_progress", None, wall=10),
          ]),
    Story(CRITICAL_CUSTOMER, "dong.ming@sd.sgcc.com.cn", "配网自动化主站数据库主备切换失败",
          "昨日演练中配网自动化主站数据库主备切换失败，目前单机运行，存在停运风险。", "incident", "P1", "370102",
          "济南市历下区经十路 15 号", minutes_ago=30 * 60, steps=[
              S(D, "assign", A, wall=2),
              S(A, "reply", "已收到，正在远程检查数据库复制状态。", wall=10),
              S(A, "status", "in_progress", None, wall=12),
              S(A, "note", "厂商二线已介入：归档日志缺失导致备库无法追平，需要停机窗口重建备库。", wall=6 * 60),
              S(A, "reply", "需要一次约 2 小时的停机窗口重建备库，已提交停机申请，待贵方调度批准。", wall=20 * 60),
          ]),
    Story(CRITICAL_CUSTOMER, "yuan.hua@sd.sgcc.com.cn", "营销系统月度报表导出缓慢",
          "营销业务系统导出月度电费报表需要 40 分钟以上，以前只需 5 分钟。", "incident", "P3", "370102", "",
          minutes_ago=10 * 24 * 60, steps=[
              S(D, "assign", A, wall=30),
              S(A, "reply", "已收到，初步判断为报表库统计信息过期，今晚维护窗口处理。", wall=60),
              S(A, "status", "in_progress", None, wall=61),
              S("yuan.hua@sd.sgcc.com.cn", "attach", "报表导出耗时统计.csv", "text/csv",
                "日期,耗时(分钟)\n11-10,42\n11-11,45\n11-12,41\n".encode(), wall=90),
              S(A, "status", "resolved", "已重建统计信息并优化两个慢查询，导出耗时降至 4 分钟。", wall=2 * 24 * 60),
              S("yuan.hua@sd.sgcc.com.cn", "rate", 4, "问题解决了，希望以后维护前提前告知。", wall=2 * 24 * 60 + 180),
              S("yuan.hua@sd.sgcc.com.cn", "status", "closed", None, wall=2 * 24 * 60 + 181),
          ]),
    Story(CRITICAL_CUSTOMER, "yuan.hua@sd.sgcc.com.cn", "110kV 变电站视频监控平台间歇性掉线",
          "历城区 110kV 港沟站视频监控每天掉线 3 到 5 次，每次约 10 分钟。", "fault", "P2", "370112",
          "济南市历城区港沟街道 110kV 港沟变电站", on_site=True, minutes_ago=2 * 24 * 60, steps=[
              S(D, "assign", A, wall=5),
              S(A, "reply", "已安排山东齐鲁云维的工程师今天上门检查。", wall=20),
              S(A, "status", "in_progress", None, wall=25),
              S(D, "arrive", wall=5 * 60),
              S(A, "reply", "现场更换了老化的 PoE 交换机，请贵方观察 24 小时后确认是否还有掉线。", wall=6 * 60),
              S(A, "status", "waiting_customer", "等待客户观察确认。", wall=6 * 60 + 1),
          ]),
    # 中原能源集团有限公司 (cn-standard)
    Story("中原能源集团有限公司", "xu.juan@zyenergy.com.cn", "集控中心 SCADA 服务器 RAID 磁盘告警",
          "集控中心 SCADA 历史服务器 RAID5 中 1 块磁盘告警（预测性故障），需要上门更换。", "fault", "P2", "410105",
          "郑州市金水区农业路 72 号 集控中心 2 层机房", on_site=True, workdays_ago=5, steps=[
              S(D, "assign", A, work=10),
              S(A, "reply", "已收到，正在联系备件库。", work=30),
              S(A, "status", "in_progress", None, work=35),
              S(D, "arrive", work=600),
              S(A, "note", "备件需从郑州仓调拨，预计明日到货。", work=640),
              S(A, "reply", "工程师已到场确认故障盘，备件明日到货后更换。", work=700),
          ]),
    Story("中原能源集团有限公司", "deng.chao@zyenergy.com.cn", "新能源场站数据接入方案咨询",
          "集团计划将 12 个风电、光伏场站的数据接入集控平台，想了解贵方的接入方案与报价。", "consultation", "P4",
          "410105", "", workdays_ago=3, hour=15, steps=[
              S(A, "reply", "感谢咨询，请提供场站清单、通信规约和现有网络拓扑，我们据此出方案。", work=120),
              S(A, "status", "waiting_customer", "等待客户提供场站清单与通信规约。", work=125),
          ]),
    Story("中原能源集团有限公司", "xu.juan@zyenergy.com.cn", "OA 系统单点登录偶发失败",
          "部分员工登录 OA 时偶发“票据校验失败”，刷新后可以登录。", "incident", "P3", "410105", "",
          workdays_ago=6, steps=[
              S(D, "assign", A, work=20),
              S(A, "reply", "已收到，正在检查 CAS 服务器日志。", work=60),
              S(A, "status", "in_progress", None, work=61),
              S(A, "status", "resolved", "已更新 CAS 服务器证书链，请观察。", work=900),
              S("xu.juan@zyenergy.com.cn", "status", "in_progress", "今天上午又出现了登录失败，请再看看。", work=2700),
              S(A, "note", "日志显示 2 号节点的证书没有更新，负载均衡把部分请求分到了它。", work=2730),
          ]),
    # 江南理工大学 (cn-standard)
    Story("江南理工大学", "peng.li@jnut.edu.cn", "科研计算平台 GPU 节点作业长时间排队",
          "科研计算平台 GPU 分区的作业排队超过 2 天，但节点监控显示多数 GPU 空闲。", "incident", "P2", "320211",
          "无锡市滨湖区蠡湖大道 1800 号 网络与信息中心", workdays_ago=4),
    Story("江南理工大学", "cao.yang@jnut.edu.cn", "统一身份认证平台 SSL 证书到期更换",
          "统一身份认证平台证书将于本月底到期，请协助更换为新证书并验证各业务系统。", "change", "P3", "320211", "",
          workdays_ago=3, steps=[
              S(D, "assign", A, work=30),
              S(A, "reply", "已收到，计划周四晚 22:00 更换，届时认证服务中断约 5 分钟。", work=90),
              S(A, "status", "in_progress", None, work=95),
              S(A, "status", "resolved", "证书已更换，32 个接入系统验证通过。", work=1200),
          ]),
    Story("江南理工大学", "peng.li@jnut.edu.cn", "图书馆数据机房 UPS 旁路告警",
          "图书馆 B1 数据机房 UPS 面板显示旁路运行告警，机房内 6 台服务器由市电直供。", "fault", "P2", "320211",
          "无锡市滨湖区蠡湖大道 1800 号 图书馆 B1 机房", on_site=True, minutes_ago=50, steps=[
              S(D, "assign", A, wall=5),
              S(A, "reply", "已收到，正在联系 UPS 厂商工程师上门。", wall=15),
          ]),
    # 宁波市交通运输局 (cn-standard)
    Story("宁波市交通运输局", "shen.jie@nbjt.gov.cn", "公交智能调度系统 GPS 数据延迟",
          "早高峰起公交智能调度系统车辆位置延迟 3 到 5 分钟，调度员无法准确发车。", "incident", "P1", "330203",
          "宁波市海曙区解放北路 91 号 交通指挥中心", workdays_ago=4, steps=[
              S(D, "assign", A, work=3),
              S(A, "reply", "已收到，正在检查 GPS 数据接入网关。", work=12),
              S(A, "status", "in_progress", None, work=13),
              S(A, "reply", "接入网关消息队列积压，已扩容消费者，延迟正在回落。", work=200),
              S(A, "status", "resolved", "积压已消化，车辆位置延迟恢复到 5 秒以内。", work=400),
              S("shen.jie@nbjt.gov.cn", "rate", 5, "处理非常及时，早高峰后就恢复了。", work=450),
              S("shen.jie@nbjt.gov.cn", "status", "closed", None, work=460),
          ]),
    Story("宁波市交通运输局", "jiang.wen@nbjt.gov.cn", "交通执法移动终端案件无法同步",
          "执法大队反映移动执法终端上的案件无法同步到后台，已影响 20 余名执法人员。", "incident", "P2", "330203", "",
          workdays_ago=1, steps=[
              S(A, "reply", "抱歉回复晚了，正在排查移动执法网关。", work=95),
              S(D, "assign", A, work=96),
              S(A, "status", "in_progress", None, work=100),
          ]),
    Story("宁波市交通运输局", "shen.jie@nbjt.gov.cn", "申请开通视频会议系统外部访问权限",
          "因与省厅召开视频会议，需要开通视频会议系统的外网访问权限（限定省厅 IP 段）。", "service_request", "P4",
          "330203", "", workdays_ago=15, steps=[
              S(A, "reply", "已收到，请提供省厅的 IP 段，我们在防火墙上做白名单。", work=60),
              S(A, "status", "in_progress", None, work=61),
              S(A, "status", "resolved", "已在防火墙开通省厅 IP 段白名单，测试会议连通正常。", work=1200),
              S("shen.jie@nbjt.gov.cn", "rate", 5, None, work=1300),
              S("shen.jie@nbjt.gov.cn", "status", "closed", None, work=1301),
          ]),
]


def working_day_at(cal: WorkCalendar, anchor: datetime, workdays_ago: int, hour: int) -> datetime:
    """`hour`:00 local time on the working day `workdays_ago` working days before the anchor's date."""
    zone = ZoneInfo(cal.timezone)
    day = anchor.astimezone(zone).date()
    found = 0
    while True:
        start = datetime(day.year, day.month, day.day, tzinfo=zone)
        if working_seconds(cal, start, start + timedelta(days=1)) > 0:
            if found == workdays_ago:
                moment = start.replace(hour=hour)
                if moment < anchor:
                    return moment
            else:
                found += 1
        day -= timedelta(days=1)


def _critical_policy(session: Session, org: Organization) -> None:
    """The customer's default policy: a copy of the seeded 7x24 policy (only one global default may exist)."""
    if session.scalar(select(SlaPolicy).where(SlaPolicy.customer_org_id == org.id, SlaPolicy.is_default.is_(True))):
        return
    seeded = session.get(SlaPolicy, CRITICAL_POLICY_ID)
    if seeded is None:
        return
    session.add(SlaPolicy(
        name=f"{seeded.name} · {org.name}", calendar_id=seeded.calendar_id, customer_org_id=org.id, is_default=True,
        targets=dict(seeded.targets), pause_statuses=list(seeded.pause_statuses),
        escalations=[dict(step) for step in seeded.escalations], is_active=True,
    ))
    session.flush()


def _tell(session: Session, story: Story, anchor: datetime, users: dict[str, User],
          orgs: dict[int, Organization]) -> Ticket:
    customer = next(o for o in orgs.values() if o.name == story.customer)
    cal = work_calendar(session, policy_for_customer(session, customer.id).calendar_id)
    if story.minutes_ago is not None:
        raised = anchor - timedelta(minutes=story.minutes_ago)
    else:
        raised = working_day_at(cal, anchor, story.workdays_ago, story.hour)

    def actor(email: str) -> Any:
        user = users[email]
        return actor_for(user, orgs[user.org_id])

    caller = users[story.raised_by]
    data = TicketCreate(
        title=story.title, description=story.description, category=story.category, priority=story.priority,
        site_region_code=story.site, site_address=story.address or None, on_site_required=story.on_site,
        customer_org_id=customer.id if story.by_phone else None, raised_by_id=caller.id if story.by_phone else None,
        channel="phone" if story.by_phone else None,
    )
    with _service_clock(raised):
        ticket = service.open_ticket(session, actor(story.by_phone or story.raised_by), data,
                                     channel="phone" if story.by_phone else "portal")
    previous = raised
    for step in story.steps:
        if step.work is not None:
            moment = add_working_time(cal, raised, step.work * 60)
        else:
            moment = raised + timedelta(minutes=step.wall or 0)
        moment = max(moment, previous + timedelta(minutes=1))
        if moment >= anchor:  # cannot happen with the spacing above; keep the story in the past anyway
            moment = previous + timedelta(seconds=1)
        previous = moment
        who = actor(step.who)
        with _service_clock(moment):
            _do(session, ticket, who, step, users)
        ticket.updated_at = moment
    session.flush()
    return ticket


def _do(session: Session, ticket: Ticket, who: Any, step: Step, users: dict[str, User]) -> None:
    args = step.args
    if step.what == "assign":
        service.update_ticket(session, who, ticket.id, TicketUpdate(assignee_id=users[args[0]].id))
    elif step.what in ("reply", "note"):
        service.comment(session, who, ticket.id, CommentIn(body=args[0], public=step.what == "reply"))
    elif step.what == "status":
        service.transition(session, who, ticket.id, TransitionIn(status=args[0], comment=args[1]))
    elif step.what == "arrive":
        service.record_arrival(session, who, ticket.id)
    elif step.what == "rate":
        service.rate(session, who, ticket.id, RatingIn(score=args[0], comment=args[1]))
    elif step.what == "attach":
        attachment = service.add_attachment(session, who, ticket.id, args[0], args[1], args[2])
        attachment.created_at = service.utcnow()
    else:
        raise ValueError(f"unknown demo step {step.what!r}")


def load_ticket_demo(session: Session) -> int:
    """Account managers, 国网山东's 7x24 policy and the demo tickets; returns how many tickets were added."""
    orgs = {o.id: o for o in (find_org_by_name(session, name) for name in CUSTOMERS) if o is not None}
    manager = find_user_by_email(session, ACCOUNT_MANAGER)
    if len(orgs) != len(CUSTOMERS) or manager is None:
        return 0  # not the demo world
    for org in orgs.values():
        org.account_manager_id = manager.id
        if org.name == CRITICAL_CUSTOMER:
            _critical_policy(session, org)
    session.flush()
    if session.scalar(select(func.count()).select_from(Ticket).where(Ticket.customer_org_id.in_(orgs))):
        return 0
    emails = {AGENT, DISPATCHER} | {s.raised_by for s in STORIES} | {st.who for s in STORIES for st in s.steps}
    users = {e: u for e in emails if (u := find_user_by_email(session, e)) is not None}
    orgs.update({u.org_id: session.get_one(Organization, u.org_id) for u in users.values()})
    anchor = utcnow().replace(microsecond=0)
    for story in STORIES:
        _tell(session, story, anchor, users, orgs)
    return len(STORIES)
