"""The coverage gaps as an Excel workbook: one sheet, one row per gap with its customer, frozen Chinese header,
and a second sheet with the customers checked (so a customer without gaps shows as such)."""

from __future__ import annotations

from io import BytesIO

from huoban.dispatch.coverage import CustomerGaps, PartnerOption

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
GAP_HEADERS = (
    "客户", "服务策略", "上门时限(分钟)", "类型", "站点", "行政区划代码", "所在区县", "经度", "纬度", "所需技能",
    "最快到达(分钟)", "超出(分钟)", "最近合格工程师", "工程师所属单位", "可补位的伙伴",
)
SUMMARY_HEADERS = ("客户", "服务策略", "上门时限(分钟)", "检查站点/区县数", "缺口数")
KIND_LABELS = {"site": "客户站点", "ticket_county": "工单上门区县"}
WIDTHS = (24, 24, 14, 14, 28, 14, 30, 10, 10, 20, 14, 12, 16, 20, 60)


def _partners_text(gap_partners: list[PartnerOption]) -> str:
    """One cell: each partner with its arrival, and the skills it lacks when its nearest engineer is unskilled."""
    parts = []
    for p in gap_partners:
        reach = "无工程师" if p.nearest_minutes is None else f"{p.nearest_minutes} 分钟"
        same = "，同省" if p.same_province else ""
        lacks = ""
        if not p.has_skills and p.nearest_minutes is not None:
            lacks = f"，缺技能：{'、'.join(p.missing_skills)}" if p.missing_skills else "，无具备全部所需技能的工程师"
        why = {"within_target": "，时限内可达", "nearest": "，最近"}.get(p.listed_as, "")
        parts.append(f"{p.name}（{reach}{same}{lacks}{why}）")
    return "；".join(parts)


def write_gaps(report: list[CustomerGaps]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "覆盖缺口"
    sheet.append(GAP_HEADERS)
    for customer in report:
        for gap in customer.gaps:
            sheet.append([
                customer.customer_name, customer.policy_name, customer.target_minutes,
                KIND_LABELS.get(gap.kind, gap.kind), gap.site_name, gap.region_code, gap.region_name,
                round(gap.longitude, 5), round(gap.latitude, 5), "、".join(gap.required_skills),
                "无合格工程师" if gap.best_minutes is None else gap.best_minutes,
                gap.shortfall_minutes, gap.engineer_name, gap.engineer_org_name, _partners_text(gap.partners),
            ])
    summary = book.create_sheet("客户汇总")
    summary.append(SUMMARY_HEADERS)
    for customer in report:
        summary.append([customer.customer_name, customer.policy_name, customer.target_minutes,
                        customer.places_checked, len(customer.gaps)])
    for ws, widths in ((sheet, WIDTHS), (summary, (24, 24, 14, 16, 10))):
        ws.freeze_panes = "A2"
        for cell in ws[1]:
            cell.font = Font(bold=True)
        for k, width in enumerate(widths, start=1):
            ws.column_dimensions[get_column_letter(k)].width = width
    out = BytesIO()
    book.save(out)
    return out.getvalue()
