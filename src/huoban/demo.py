"""Demo data: the operator, six partners and five customers with a user for every role.

Idempotent: organizations are found by name and users by e-mail, so running it again adds only
what is missing and never resets a password someone changed.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from huoban.config import get_settings
from huoban.identity.repository import find_org_by_name, find_user_by_email
from huoban.identity.schemas import OrgCreate, UserCreate
from huoban.identity.service import create_org, create_user
from huoban.models import OrgKind

# (kind, name, industry, region, description, [(role, display name, e-mail)])
DEMO_ORGS: list[tuple[str, str, str, str, str, list[tuple[str, str, str]]]] = [
    ("operator", "华云伙伴科技有限公司", "cloud", "330106", "运营 Huoban 平台的云与 IT 服务商。", [
        ("admin", "张伟", "zhang.wei@huayun-cloud.cn"),
        ("account_manager", "李静", "li.jing@huayun-cloud.cn"),
        ("presales", "王强", "wang.qiang@huayun-cloud.cn"),
        ("agent", "刘洋", "liu.yang@huayun-cloud.cn"),
        ("dispatcher", "陈敏", "chen.min@huayun-cloud.cn"),
        ("finance", "杨帆", "yang.fan@huayun-cloud.cn"),
        ("ecosystem_manager", "赵磊", "zhao.lei@huayun-cloud.cn"),
        ("system_admin", "黄涛", "huang.tao@huayun-cloud.cn"),
        ("security_admin", "周婷", "zhou.ting@huayun-cloud.cn"),
        ("audit_admin", "吴刚", "wu.gang@huayun-cloud.cn"),
    ]),
    ("partner", "浙江数联系统集成有限公司", "integration", "330106", "浙江省内政务云与数据中台系统集成商。", [
        ("partner_admin", "徐浩", "xu.hao@zjshulian.com.cn"),
        ("partner_engineer", "孙鹏", "sun.peng@zjshulian.com.cn"),
        ("partner_finance", "马丽", "ma.li@zjshulian.com.cn"),
    ]),
    ("partner", "山东齐鲁云维信息技术服务有限公司", "services", "370102", "覆盖山东 16 个地市、县级上门运维服务。", [
        ("partner_admin", "朱军", "zhu.jun@qlyunwei.cn"),
        ("partner_engineer", "胡斌", "hu.bin@qlyunwei.cn"),
        ("partner_engineer", "郭亮", "guo.liang@qlyunwei.cn"),
    ]),
    ("partner", "北京智策数字咨询有限公司", "consulting", "110108", "数字政府顶层设计与等保咨询。", [
        ("partner_admin", "林芳", "lin.fang@zhice-consulting.cn"),
        ("partner_finance", "何雪", "he.xue@zhice-consulting.cn"),
    ]),
    ("partner", "贵州黔云数据中心有限公司", "cloud", "520115", "贵安数据中心机柜、专属云与灾备资源。", [
        ("partner_admin", "高峰", "gao.feng@qianyun-idc.cn"),
        ("partner_engineer", "罗成", "luo.cheng@qianyun-idc.cn"),
    ]),
    ("partner", "深圳星图软件股份有限公司", "software", "440305", "电力调度与能源管理 SaaS 独立软件开发商。", [
        ("partner_admin", "郑凯", "zheng.kai@xingtu-soft.cn"),
        ("partner_engineer", "梁宇", "liang.yu@xingtu-soft.cn"),
    ]),
    ("partner", "四川蜀通科技发展有限公司", "distribution", "510107", "西南地区云资源与软件分销商。", [
        ("partner_admin", "宋佳", "song.jia@shutong-tech.cn"),
        ("partner_finance", "唐敏", "tang.min@shutong-tech.cn"),
    ]),
    ("customer", "浙江省大数据发展管理局", "government", "330106", "省级政府部门，一体化智能化公共数据平台建设单位。", [
        ("customer_admin", "韩冰", "han.bing@zjdata.gov.cn"),
        ("customer_member", "冯晓", "feng.xiao@zjdata.gov.cn"),
    ]),
    ("customer", "国网山东省电力公司", "power_grid", "370102", "省级电网公司，调度自动化与配网运维。", [
        ("customer_admin", "董明", "dong.ming@sd.sgcc.com.cn"),
        ("customer_member", "袁华", "yuan.hua@sd.sgcc.com.cn"),
    ]),
    ("customer", "中原能源集团有限公司", "energy", "410105", "煤电、新能源一体化能源集团。", [
        ("customer_admin", "邓超", "deng.chao@zyenergy.com.cn"),
        ("customer_member", "许娟", "xu.juan@zyenergy.com.cn"),
    ]),
    ("customer", "江南理工大学", "education", "320211", "省属重点高校，智慧校园与科研计算平台。", [
        ("customer_admin", "曹阳", "cao.yang@jnut.edu.cn"),
        ("customer_member", "彭丽", "peng.li@jnut.edu.cn"),
    ]),
    ("customer", "宁波市交通运输局", "transport", "330203", "市级交通主管部门，智慧交通与公交调度系统。", [
        ("customer_admin", "蒋文", "jiang.wen@nbjt.gov.cn"),
        ("customer_member", "沈洁", "shen.jie@nbjt.gov.cn"),
    ]),
]


def load_demo(session: Session, password: str) -> list[tuple[str, str, str, str]]:
    """Create whatever of the demo world is missing; return (organization, role, e-mail, name) rows."""
    settings = get_settings()
    logins: list[tuple[str, str, str, str]] = []
    for kind, name, industry, region, description, users in DEMO_ORGS:
        org = find_org_by_name(session, name) or create_org(
            session, None,
            OrgCreate(kind=OrgKind(kind), name=name, industry=industry, region_code=region, description=description),
        )
        for role, display_name, email in users:
            if find_user_by_email(session, email) is None:
                create_user(session, None, UserCreate(
                    org_id=org.id, email=email, display_name=display_name, role=role,
                    password=password,
                ), settings)
            logins.append((name, role, email, display_name))
    from huoban.service_desk.demo import load_ticket_demo

    load_ticket_demo(session)
    from huoban.engagements.demo import load_engagement_demo

    load_engagement_demo(session)
    from huoban.dispatch.demo import load_dispatch_demo

    load_dispatch_demo(session)
    return logins
