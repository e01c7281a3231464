"""In a real browser on the demo world: the coverage page's ECharts map really draws, for the operator's
dispatcher (every county, the customers' gaps on top) and for a customer (its own sites only).

The chart is checked twice: ECharts' own option has the scatter series with as many points as the server found,
and the canvas has pixels of the series' colours (a chart that failed to draw is transparent).
"""

from __future__ import annotations

from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from huoban.dispatch.coverage import coverage_gaps
from huoban.identity.repository import find_user_by_email
from huoban.identity.service import actor_for
from huoban.models import Organization, Region
from tests.e2e.conftest import login, shot

DESKTOP = {"viewport": {"width": 1280, "height": 900}}
DISPATCHER = "chen.min@huayun-cloud.cn"
CUSTOMER = "dong.ming@sd.sgcc.com.cn"  # 国网山东省电力公司

# Points per series id from ECharts' option, and the canvas's pixels of each series' colour (± 12 per channel).
CHART_STATE = """() => {
  const box = document.getElementById("coverage-map");
  const chart = echarts.getInstanceByDom(box);
  if (!chart) return null;
  const series = {};
  chart.getOption().series.forEach(s => { series[s.id] = s.data.length; });
  const canvas = box.querySelector("canvas");
  const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  const colours = {green: [5, 150, 105], amber: [217, 119, 6], red: [220, 38, 38], purple: [124, 58, 237]};
  const counts = {painted: 0, green: 0, amber: 0, red: 0, purple: 0};
  for (let i = 0; i < pixels.length; i += 4) {
    if (pixels[i + 3] === 0) continue;
    counts.painted += 1;
    for (const [name, [r, g, b]] of Object.entries(colours)) {
      if (Math.abs(pixels[i] - r) <= 12 && Math.abs(pixels[i + 1] - g) <= 12 && Math.abs(pixels[i + 2] - b) <= 12) {
        counts[name] += 1;
      }
    }
  }
  return {series, counts, size: [canvas.width, canvas.height]};
}"""


def expected(database_url: str, email: str) -> tuple[int, list[tuple[int, int]]]:
    """Counties on the map, and (places checked, gaps) per customer the user may see, from the database."""
    engine = create_engine(database_url)
    with Session(engine) as session:
        counties = session.scalar(select(func.count()).select_from(Region).where(
            Region.level == "county", Region.placeholder.is_(False)))
        user = find_user_by_email(session, email)
        assert user is not None
        report = coverage_gaps(session, actor_for(user, session.get_one(Organization, user.org_id)))
        per_customer = [(c.places_checked, len(c.gaps)) for c in report]
    engine.dispose()
    return int(counties or 0), per_customer


def open_map(page, base: str) -> dict:
    page.goto(f"{base}/dispatch/coverage")
    page.wait_for_selector("#coverage-map canvas")
    page.wait_for_function(f"() => {{ const s = ({CHART_STATE})(); return s && s.counts.painted > 0; }}")
    state = page.evaluate(CHART_STATE)
    assert state["size"][0] > 300 and state["size"][1] > 300
    return state


def test_the_dispatchers_coverage_map_draws_every_county_and_the_gaps(browser, demo_server, fresh_database_url):
    counties, per_customer = expected(fresh_database_url, DISPATCHER)
    gaps = sum(g for _, g in per_customer)
    assert counties > 2000 and gaps > 0
    context = browser.new_context(**DESKTOP)
    page = context.new_page()
    login(page, demo_server, DISPATCHER)
    state = open_map(page, demo_server)
    shot(page, "coverage-map-dispatcher")
    series = state["series"]
    assert set(series) <= {"met", "missed", "none", "gap"}
    assert series.get("met", 0) + series.get("missed", 0) + series.get("none", 0) == counties
    assert series["met"] == int(page.inner_text("#met-count"))
    assert series["gap"] == gaps == page.locator(".coverage-customer tbody tr").count()
    counts = state["counts"]
    assert counts["green"] > 200 and counts["purple"] > 50, counts  # county dots, and the gaps' diamonds
    assert counts["amber"] + counts["red"] > 0, counts  # counties reached too late or not at all
    context.close()


def test_a_customers_coverage_map_draws_its_own_sites(browser, demo_server, fresh_database_url):
    _, per_customer = expected(fresh_database_url, CUSTOMER)
    [(places, gaps)] = per_customer
    assert places > gaps > 0
    context = browser.new_context(**DESKTOP)
    page = context.new_page()
    login(page, demo_server, CUSTOMER)
    state = open_map(page, demo_server)
    shot(page, "coverage-map-customer")
    series = state["series"]
    assert set(series) == {"context", "site", "gap"}  # no county coverage, no engineer
    assert series["site"] + series["gap"] == places and series["gap"] == gaps
    assert series["context"] > 100  # the county seats of Shandong, drawn faintly
    assert page.locator(".coverage-customer").count() == 1
    counts = state["counts"]
    assert counts["green"] > 50 and counts["purple"] > 50, counts
    assert counts["amber"] == 0 and counts["red"] == 0, counts
    context.close()
