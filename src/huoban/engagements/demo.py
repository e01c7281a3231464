"""Demo engagements: the five demo customers' pre-sales and delivery over the last three quarters.

Every engagement is opened and moved through the services as its people would have, at past instants:
the engagement service's and the requirements module's clocks (`utcnow`) are set to each step's moment
while it runs, so timelines, version and change-order dates agree. The account manager 李静 owns them
all, 王强 is the presales team; each customer's customer_admin signs off or returns the requirement
versions and approves change orders; deliverables are graded by the customer.

Stages covered: inquiry, consulting, proposal, bidding, won, lost (with a reason), delivering, accepted,
closed; every engagement has at least two consultations and at least two requirement versions (early drafts
and their revision before the proposal), and the delivering one has a graded deliverable and two waiting for
the customer's grade (its change order still pending keeps it delivering). Idempotent: nothing is added when any demo
customer already has an engagement.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from huoban.engagements import requirements, service
from huoban.engagements.requirements_schemas import ChangeOrderCreate, DeliverableCreate, GradeIn, ItemIn
from huoban.engagements.schemas import ConsultationCreate, EngagementCreate, ParticipantIn, StageIn
from huoban.identity.actor import Actor
from huoban.identity.repository import find_org_by_name, find_user_by_email
from huoban.identity.service import actor_for
from huoban.models import Engagement, Organization, User, utcnow

ACCOUNT_MANAGER = "li.jing@huayun-cloud.cn"
PRESALES = "wang.qiang@huayun-cloud.cn"
PATH = ("inquiry", "consulting", "proposal", "bidding", "won", "delivering", "accepted", "closed")
EFFORT = {"meeting": 120, "call": 30, "site_visit": 240, "workshop": 360}

# customer → (customer_admin, customer_member, region)
CUSTOMERS: dict[str, tuple[str, str, str]] = {
    "浙江省大数据发展管理局": ("han.bing@zjdata.gov.cn", "feng.xiao@zjdata.gov.cn", "330106"),
    "国网山东省电力公司": ("dong.ming@sd.sgcc.com.cn", "yuan.hua@sd.sgcc.com.cn", "370102"),
    "中原能源集团有限公司": ("deng.chao@zyenergy.com.cn", "xu.juan@zyenergy.com.cn", "410105"),
    "江南理工大学": ("cao.yang@jnut.edu.cn", "peng.li@jnut.edu.cn", "320211"),
    "宁波市交通运输局": ("jiang.wen@nbjt.gov.cn", "shen.jie@nbjt.gov.cn", "330203"),
}


@dataclass
class Plan:
    """One engagement: opened `start` days ago, one stage step every `gap` days until `stage`."""

    customer: str
    title: str
    goal: str
    budget_wan: tuple[int, int]  # 万元
    industry: str
    stage: str  # the stage it ends in
    start: int
    gap: int
    consultations: list[tuple[int, str, str, str, str]]  # (day after start, kind, title, minutes, follow-ups)
    items: list[tuple[str, str, str]] = field(default_factory=list)  # (title, priority, acceptance criteria)
    decisions: list[str | None] = field(default_factory=list)  # per version: "return" | "sign" | None (pending)
    returns: list[str] = field(default_factory=list)  # the customer's comments on returned versions
    lost_from: str | None = None
    lost_reason: str | None = None
    changes: list[tuple[str, int, int, str, bool | None]] = field(default_factory=list)
    # (reason, effort hours, price impact 万元, added item title, approve? / None = pending)
    deliverables: list[tuple[str, list[str], int | None, str]] = field(default_factory=list)
    # (title, item keys, score, comment); score None = submitted and waiting for the customer's grade


PLANS: list[Plan] = [
    Plan("浙江省大数据发展管理局", "公共数据平台 2027 年度扩容咨询",
         "希望评估省公共数据平台 2027 年数据量增长，提前规划计算与存储扩容。", (80, 150), "government",
         "inquiry", 20, 5,
         [(2, "call", "扩容需求初步沟通", "冯晓介绍了 2026 年数据量增长约 40%，计划明年一季度立项。",
           "李静整理现有资源台账，下周发送。"),
          (9, "meeting", "第 2 版需求评审会", "与韩冰逐项核对资源台账与季度容量预测：存储利用率已达 78%，"
           "计算峰值集中在月末。", "局方内部确认第 2 版后，李静准备立项材料。")],
         [("资源现状台账", "must", "列出现有计算、存储资源及近 12 个月利用率"),
          ("2027 年容量预测", "should", "给出数据量、计算量的季度预测及依据")],
         ["return", None], ["台账之外请补充 2027 年容量预测，按季度给出。"]),
    Plan("浙江省大数据发展管理局", "一体化智能化公共数据平台数据治理二期",
         "对人口、法人、电子证照等基础库开展数据质量治理，建立数据标准与质量评价体系。", (300, 500),
         "government", "proposal", 150, 25,
         [(3, "meeting", "二期启动需求会", "韩冰介绍一期问题：人口库重复率 3.2%，证照库字段不一致。",
           "王强输出数据质量现状评估报告。"),
          (20, "workshop", "数据标准工作坊", "与各处室梳理 126 项数据元标准，确认优先治理的 5 个基础库。",
           "整理数据元清单并提交局方确认。"),
          (45, "site_visit", "地市数据中心调研（湖州）", "调研地市回流数据质量，抽样 2 万条记录。",
           "将抽样结果纳入需求说明书。")],
         [("数据标准体系建设", "must", "发布不少于 120 项数据元标准并通过专家评审"),
          ("基础库质量治理", "must", "人口库重复率降至 0.5% 以下"),
          ("数据质量评价看板", "should", "按地市、按库展示质量得分，每日更新"),
          ("治理工具培训", "could", "完成 3 场培训，覆盖 11 个地市")],
         ["return", None], ["请补充地市回流数据的治理范围，并明确重复率的统计口径。"]),
    Plan("国网山东省电力公司", "调度自动化主站国产化改造",
         "将地调调度自动化主站服务器与数据库迁移至国产化平台，保障 7x24 运行不中断。", (800, 1200),
         "power_grid", "bidding", 200, 30,
         [(5, "site_visit", "济南地调机房勘查", "勘查 2 号机房机柜、电源与网络，确认割接窗口在凌晨。",
           "胡斌提交机房勘查报告。"),
          (35, "meeting", "国产化技术路线评审", "董明确认采用鲲鹏服务器与达梦数据库，需提供兼容性测试报告。",
           "王强组织兼容性测试。"),
          (70, "workshop", "割接方案推演", "与调度、运方共同推演三轮割接，明确回退条件。",
           "形成割接方案 V1.2。")],
         [("主站服务器国产化迁移", "must", "全部业务迁移至鲲鹏平台，性能不低于原系统"),
          ("数据库迁移至达梦", "must", "历史数据零丢失，校验一致率 100%"),
          ("割接与回退方案", "must", "割接中断时间不超过 30 分钟"),
          ("运维人员培训", "should", "完成 2 期培训并考核合格")],
         ["return", "return", "sign"],
         ["割接窗口需避开迎峰度夏期间。", "请增加回退演练的验收标准。"]),
    Plan("中原能源集团有限公司", "新能源场站集中监控平台",
         "建设覆盖 23 个风电、光伏场站的集中监控平台，实现远程监视与生产报表自动化。", (500, 800), "energy",
         "won", 240, 30,
         [(4, "meeting", "集中监控需求交流", "邓超介绍场站分布与现有 SCADA 厂商情况。", "收集各场站通信规约清单。"),
          (40, "site_visit", "兰考风电场现场调研", "调研风机 SCADA 与升压站综自系统接口。", "郑凯评估接口开发量。"),
          (100, "call", "报价澄清电话会", "澄清光功率预测模块是否包含在本期范围内：包含。", "更新报价单。")],
         [("场站数据接入", "must", "23 个场站全部接入，数据刷新周期不超过 5 秒"),
          ("集中监视画面", "must", "提供集团、区域、场站三级画面"),
          ("生产报表自动化", "should", "日、月报表自动生成并推送"),
          ("光功率预测", "should", "短期预测准确率不低于 85%")],
         ["return", "sign"], ["请补充通信中断时的数据补采机制。"]),
    Plan("江南理工大学", "高性能计算平台扩容",
         "为科研团队扩容 GPU 计算资源，支撑大模型与材料计算研究。", (600, 900), "education",
         "lost", 210, 30,
         [(6, "meeting", "科研计算需求调研", "曹阳汇总 12 个课题组需求，GPU 卡时缺口约 40 万/年。", "测算配置方案。"),
          (50, "workshop", "调度系统选型研讨", "对比 Slurm 与自研调度方案，倾向 Slurm。", "输出选型建议。")],
         [("GPU 计算节点", "must", "不少于 32 台 8 卡节点"),
          ("并行存储", "must", "容量 2PB，带宽不低于 100GB/s"),
          ("作业调度与计费", "should", "按课题组计量卡时")],
         ["return", "sign"], ["请按课题组拆分预算。"],
         lost_from="bidding", lost_reason="公开招标评分第二名：中标方报价低 12%，且承诺本地驻场 3 年。"),
    Plan("宁波市交通运输局", "智慧公交调度系统升级",
         "升级全市公交智能调度系统，支持 4000 辆公交车实时定位、智能排班与客流分析。", (300, 500), "transport",
         "delivering", 260, 30,
         [(3, "meeting", "需求启动会", "蒋文介绍现有调度系统瓶颈：高峰期排班依赖人工。", "收集线路与车辆数据。"),
          (30, "site_visit", "公交调度中心调研", "现场观察早高峰调度流程，记录 17 个痛点。", "整理痛点清单。"),
          (60, "workshop", "智能排班规则工作坊", "与 5 家公交公司确认排班约束规则 42 条。", "形成规则库初稿。"),
          (150, "meeting", "实施启动会", "确认项目组织与里程碑，12 月完成一期上线。", "周报机制每周五提交。"),
          (165, "call", "变更沟通电话会", "沈洁提出增加乘客端到站预测推送接口。", "评估变更工作量与报价。")],
         [("车辆实时定位", "must", "4000 辆车定位刷新不超过 10 秒"),
          ("智能排班", "must", "排班方案生成时间不超过 5 分钟"),
          ("客流分析报表", "should", "按线路、站点、时段统计客流")],
         ["return", "sign"], ["请明确与现有 IC 卡系统的数据接口方式。"],
         changes=[("新增客流热力图展示，用于线网优化。", 160, 30, "客流热力图", True),
                  ("增加乘客端到站预测推送接口。", 240, 45, "到站预测推送接口", None)],
         deliverables=[("车辆实时定位模块", ["R-1"], 4, "定位刷新稳定，个别老旧车载机延迟偏高。"),
                       ("智能排班引擎", ["R-2"], None, ""),
                       ("客流分析与热力图", ["R-3", "R-4"], None, "")]),
    Plan("国网山东省电力公司", "配网运维移动作业平台",
         "为配网运维班组提供移动作业 App，实现工单派发、巡视与缺陷上报闭环。", (200, 350), "power_grid",
         "accepted", 270, 30,
         [(2, "meeting", "移动作业需求会", "袁华介绍 16 个地市运维班组作业流程。", "梳理作业类型。"),
          (25, "site_visit", "泰安供电公司班组调研", "跟班巡视一天，记录离线场景需求。", "补充离线作业需求。"),
          (120, "workshop", "验收标准确认会", "与运检部确认验收用例 86 条。", "形成验收方案。")],
         [("工单派发与回执", "must", "工单到达时间不超过 30 秒"),
          ("离线巡视", "must", "无信号区域可离线记录，联网后自动同步"),
          ("缺陷上报", "must", "支持拍照、定位与缺陷分级")],
         ["return", "sign"], ["离线同步需说明冲突处理规则。"],
         deliverables=[("移动作业 App V1.0", ["R-1", "R-2"], 5, "功能完整，离线同步稳定。"),
                       ("缺陷上报模块及培训", ["R-3"], 4, "培训覆盖全部地市，个别班组需补训。")]),
    Plan("江南理工大学", "智慧校园统一身份认证",
         "建设统一身份认证与单点登录平台，接入教务、科研、财务等 30 个业务系统。", (150, 250), "education",
         "closed", 265, 24,
         [(4, "meeting", "统一身份需求调研", "彭丽梳理 30 个系统的账号体系。", "输出接入清单。"),
          (30, "call", "等保要求澄清", "确认需满足等保三级双因素认证。", "方案增加短信与 OTP。")],
         [("统一身份认证", "must", "师生账号统一，支持双因素认证"),
          ("单点登录接入", "must", "30 个业务系统全部接入"),
          ("账号生命周期管理", "should", "与人事、学籍系统自动同步")],
         ["return", "sign"], ["请补充等保三级对日志留存的要求。"],
         deliverables=[("统一身份认证平台", ["R-1", "R-3"], 5, "运行稳定，师生反馈良好。"),
                       ("30 个系统单点登录接入", ["R-2"], 4, "已全部接入，文档略有欠缺。")]),
    Plan("中原能源集团有限公司", "集团数据中心灾备建设",
         "为集团核心业务系统建设同城灾备，RPO 不超过 15 分钟。", (1000, 1500), "energy",
         "consulting", 60, 20,
         [(1, "call", "灾备需求初步沟通", "许娟介绍核心系统 ERP、财务共享与生产管控。", "安排现场调研。"),
          (25, "site_visit", "郑州主数据中心调研", "调研机房、存储与网络现状，确认同城距离 32 公里。",
           "高峰评估黔云专属云作为异地备份的可行性。")],
         [("同城灾备中心", "must", "核心系统 RPO 不超过 15 分钟、RTO 不超过 2 小时"),
          ("灾备演练", "must", "每半年一次切换演练并形成报告"),
          ("异地备份可行性评估", "could", "给出异地备份的方案与费用对比")],
         ["return", None], ["请把财务共享系统列为第一批灾备对象。"]),
]


@contextmanager
def _clock(moment: datetime) -> Iterator[None]:
    """Run engagement and requirement calls as if it were `moment`."""
    originals = service.utcnow, requirements.utcnow
    service.utcnow = requirements.utcnow = lambda: moment
    try:
        yield
    finally:
        service.utcnow, requirements.utcnow = originals


class _Teller:
    def __init__(self, session: Session, anchor: datetime) -> None:
        self.session = session
        self.anchor = anchor
        self.users: dict[str, User] = {}
        self.actors: dict[str, Actor] = {}

    def user(self, email: str) -> User:
        if email not in self.users:
            user = find_user_by_email(self.session, email)
            assert user is not None, email
            self.users[email] = user
        return self.users[email]

    def actor(self, email: str) -> Actor:
        if email not in self.actors:
            user = self.user(email)
            self.actors[email] = actor_for(user, self.session.get_one(Organization, user.org_id))
        return self.actors[email]

    def moment(self, days_ago: float, hour: int = 2) -> datetime:
        """`days_ago` days before the anchor at `hour`:00 UTC (10:00 in China)."""
        day = self.anchor - timedelta(days=days_ago)
        moment = day.replace(hour=hour, minute=0, second=0, microsecond=0)
        return min(moment, self.anchor - timedelta(minutes=5))

    def tell(self, plan: Plan, customer: Organization) -> Engagement:
        s = self.session
        admin_email, member_email, region = CUSTOMERS[plan.customer]
        manager, presales, admin = self.actor(ACCOUNT_MANAGER), self.actor(PRESALES), self.actor(admin_email)
        with _clock(self.moment(plan.start, 1)):
            engagement = service.create_engagement(s, manager, EngagementCreate(
                customer_org_id=customer.id, title=plan.title, goal=plan.goal,
                budget_min_fen=plan.budget_wan[0] * 1_000_000, budget_max_fen=plan.budget_wan[1] * 1_000_000,
                industry=plan.industry, region_code=region, owner_id=self.user(ACCOUNT_MANAGER).id,
                member_ids=[self.user(PRESALES).id]))
        eid = engagement.id
        for offset, kind, title, minutes, follow_ups in plan.consultations:
            people = [
                ParticipantIn(user_id=self.user(ACCOUNT_MANAGER).id, side="provider", effort_minutes=EFFORT[kind]),
                ParticipantIn(user_id=self.user(PRESALES).id, side="provider",
                              effort_minutes=EFFORT[kind] + (60 if kind != "call" else 0)),
                ParticipantIn(user_id=self.user(admin_email).id, side="customer"),
                ParticipantIn(user_id=self.user(member_email).id, side="customer"),
            ]
            held = self.moment(plan.start - offset, 1)
            with _clock(min(held + timedelta(hours=8), self.anchor - timedelta(minutes=1))):
                service.add_consultation(s, manager, eid, ConsultationCreate(
                    kind=kind, held_on=held.date(), title=title, minutes=minutes, follow_ups=follow_ups,
                    participants=people))

        target = plan.lost_from or plan.stage
        steps = PATH[1:PATH.index(target) + 1]
        day = float(plan.start)
        for stage in steps:
            day -= plan.gap
            with _clock(self.moment(day, 2)):
                if stage == "accepted":
                    self._deliver(plan, engagement, manager, admin, finish=True)
                    continue
                service.change_stage(s, manager, eid, StageIn(stage=stage))
            if stage == "proposal":
                self._versions(plan, eid, presales, admin, day, plan.gap)
            if stage == "delivering" and plan.changes:
                self._changes(plan, eid, presales, admin, day, plan.gap)
            if stage == "delivering" and plan.stage == "delivering":
                with _clock(self.moment(day - plan.gap * 0.9, 7)):
                    self._deliver(plan, engagement, manager, admin, finish=False)
        if "proposal" not in steps and plan.items:
            self._versions(plan, eid, presales, admin, day, plan.gap)  # early drafts of the customer's goal
        if plan.lost_from:
            with _clock(self.moment(day - plan.gap / 2, 3)):
                service.change_stage(s, manager, eid, StageIn(stage="lost", reason=plan.lost_reason))
        return engagement

    def _items(self, plan: Plan, count: int, extra: list[str] | None = None) -> list[ItemIn]:
        out = [ItemIn(key=f"R-{i + 1}", title=t, priority=p, acceptance_criteria=a)
               for i, (t, p, a) in enumerate(plan.items[:count])]
        for j, title in enumerate(extra or []):
            out.append(ItemIn(key=f"R-{len(plan.items) + j + 1}", title=title, priority="should"))
        return out

    def _versions(self, plan: Plan, eid: int, presales: Actor, admin: Actor, day: float, gap: int) -> None:
        n = len(plan.decisions)
        step = gap / (2 * n + 1)
        for k, decision in enumerate(plan.decisions):
            count = len(plan.items) - (n - 1 - k) if n > 1 else len(plan.items)
            count = max(count, 1)
            when = day - step * (2 * k + 1)
            with _clock(self.moment(when, 3)):
                requirements.propose_version(self.session, presales, eid, self._items(plan, count),
                                             note=f"第 {k + 1} 版需求说明书")
            with _clock(self.moment(when - step, 6)):
                if decision == "sign":
                    requirements.sign(self.session, admin, eid, k + 1, "同意，按此版本执行。")
                elif decision == "return":
                    requirements.return_version(self.session, admin, eid, k + 1, plan.returns[k])

    def _changes(self, plan: Plan, eid: int, presales: Actor, admin: Actor, day: float, gap: int) -> None:
        extra: list[str] = []
        for k, (reason, hours, wan, title, approve) in enumerate(plan.changes):
            extra.append(title)
            when = day - gap * (k + 1) / (len(plan.changes) + 1)
            with _clock(self.moment(when, 3)):
                order = requirements.propose_change(self.session, presales, eid, ChangeOrderCreate(
                    items=self._items(plan, len(plan.items), extra), note=f"变更：{title}", reason=reason,
                    effort_hours=hours, price_impact_fen=wan * 1_000_000))
            if approve is not None:
                with _clock(self.moment(when - 2, 6)):
                    requirements.decide_change(self.session, admin, eid, order.id, approve,
                                               "同意变更。" if approve else "本期不做。")

    def _deliver(self, plan: Plan, engagement: Engagement, manager: Actor, admin: Actor, *, finish: bool) -> None:
        """Record, submit and grade the plan's deliverables (a score of None stays submitted, for the customer to
        grade); `finish` moves the engagement to accepted."""
        operator_org = self.session.get_one(Organization, manager.org_id)
        rows = [requirements.create_deliverable(self.session, manager, engagement.id, DeliverableCreate(
            title=title, item_keys=keys, delivered_by_org_id=operator_org.id))
            for title, keys, _, _ in plan.deliverables]
        for row in rows:
            requirements.submit_deliverable(self.session, manager, engagement.id, row.id)
        for row, (_, _, score, comment) in zip(rows, plan.deliverables, strict=True):
            if score is not None:
                requirements.grade_deliverable(self.session, admin, engagement.id, row.id, True,
                                               GradeIn(score=score, comment=comment))
        if finish and engagement.stage != "accepted":
            service.change_stage(self.session, manager, engagement.id, StageIn(stage="accepted"))


def load_engagement_demo(session: Session) -> int:
    """The demo engagements; returns how many were added (0 when the demo customers already have some)."""
    orgs = {name: find_org_by_name(session, name) for name in CUSTOMERS}
    if any(o is None for o in orgs.values()) or find_user_by_email(session, ACCOUNT_MANAGER) is None:
        return 0  # not the demo world
    ids = [o.id for o in orgs.values() if o is not None]
    if session.scalar(select(func.count()).select_from(Engagement).where(Engagement.customer_org_id.in_(ids))):
        return 0
    teller = _Teller(session, utcnow().replace(microsecond=0))
    for plan in PLANS:
        customer = orgs[plan.customer]
        assert customer is not None
        teller.tell(plan, customer)
    session.flush()
    return len(PLANS)
