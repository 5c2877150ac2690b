"""The portfolio pages, their exports and the API, through the web and API test clients."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook

from tests.support.web import Browser


@pytest.fixture
def as_user(portfolio_app, seeded_portfolio, web):  # noqa: ANN001, ANN201
    return lambda username: Browser(web, username)


def test_dashboard_shows_every_section_with_links_and_money(as_user):
    html = as_user("petra").html("/portfolio")
    for title in ("Projects by phase", "Projects by status (RAG)", "Health by dimension", "Milestones slipping",
                  "Projects forecast to end late", "Gates due this month", "Gate outcomes this quarter",
                  "Budget: baseline, actuals and forecast", "Open change requests",
                  "Change requests decided this quarter", "Top risks across projects", "Projects with a risk above 15"):
        assert title in html
    assert 'href="/projects/1"' in html  # every project links to its workspace
    assert "€115,000<" in html and "€190,000<" in html and "11.8%" in html
    assert "Apr 14, 2027" in html
    assert '<script type="application/json" id="chart-pipeline">' in html
    assert "/vendor/chart.js/chart.umd.js" in html
    assert "style=" not in html and "<script>" not in html  # CSP: no inline styles or code


def test_filters_are_kept_in_the_url_and_in_the_exports(as_user):
    html = as_user("petra").html("/portfolio?phase=planning&category=Operations")
    assert '<option value="planning" selected>' in html
    assert "1 project<" in html
    assert "/portfolio/dashboard/export/cost.csv?category=Operations&amp;phase=planning" in html


def test_a_sponsor_sees_their_projects_and_others_are_refused(as_user):
    html = as_user("sam").html("/portfolio")
    assert "ALP-001 Alpha" in html and "GAM-003 Gamma" not in html
    assert as_user("maria").get("/portfolio").status_code == 403
    assert as_user("sam").get("/portfolio/processes").status_code == 403
    assert as_user("sam").get("/portfolio/resources").status_code == 403
    assert as_user("sam").get("/portfolio/resources/export/by_role.csv").status_code == 403
    assert as_user("rita").get("/portfolio/resources").status_code == 200
    assert as_user("owen").get("/portfolio/processes").status_code == 200


def test_navigation_offers_the_portfolio_to_those_who_may_see_it(as_user):
    assert 'href="/portfolio"' in as_user("petra").html("/inbox")
    assert 'href="/portfolio"' in as_user("sam").html("/inbox")
    assert 'href="/portfolio"' not in as_user("maria").html("/inbox")


def test_csv_export_reads_back(as_user):
    response = as_user("petra").get("/portfolio/dashboard/export/cost.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert 'filename="portfolio-budget-baseline-actuals-and-forecast.csv"' in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == ["Project", "Baseline", "Actuals", "Forecast", "Variance", "Variance %"]
    assert rows[1] == ["ALP-001 Alpha", "100000.0", "60000.0", "115000.0", "15000.0", "15.0"]
    assert rows[-1][:4] == ["Portfolio", "170000.0", "115000.0", "190000.0"]


def test_xlsx_export_of_the_whole_page_reads_back(as_user):
    response = as_user("petra").get("/portfolio/dashboard/export/all.xlsx?phase=execution")
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.get_data()))
    assert "Budget baseline, actuals and fo" in book.sheetnames[7] or len(book.sheetnames) == 12
    sheet = book["Health by dimension"]
    assert [c.value for c in sheet[1]][:3] == ["Project", "Schedule", "Budget"]
    assert [c.value for c in sheet[2]][:3] == ["ALP-001 Alpha", "Red", "Amber"]
    cost = next(book[n] for n in book.sheetnames if n.startswith("Budget"))
    assert cost["B2"].value == 100000 and "€" in cost["B2"].number_format
    assert cost.max_row == 4  # Alpha, Gamma and the total: the filter holds


def test_unknown_exports_are_not_found(as_user):
    browser = as_user("petra")
    assert browser.get("/portfolio/dashboard/export/nope.csv").status_code == 404
    assert browser.get("/portfolio/elsewhere/export/cost.csv").status_code == 404
    assert browser.get("/portfolio/dashboard/export/cost.pdf").status_code == 404


def test_a_page_shows_the_first_rows_and_its_exports_hold_them_all(as_user, monkeypatch):
    from contextvars import ContextVar

    from app.portfolio import queries

    monkeypatch.setattr(queries, "_row_limit", ContextVar("portfolio_row_limit", default=1))
    html = as_user("rita").html("/portfolio/resources?from=2026-12")
    assert html.count("1 more in the exports.") == 2  # people: dana shown, erin left off; competing: January
    people = as_user("rita").get("/portfolio/resources/export/by_person.csv?from=2026-12").get_data(as_text=True)
    assert [r[0] for r in csv.reader(io.StringIO(people))][1:] == ["dana", "erin"]
    book = load_workbook(io.BytesIO(as_user("rita").get("/portfolio/resources/export/all.xlsx?from=2026-12").get_data()))
    assert [sheet.max_row for sheet in book.worksheets] == [2, 3, 3]  # a heading and every row of each table
    cost = as_user("petra").get("/portfolio/dashboard/export/cost.csv").get_data(as_text=True)
    assert len(list(csv.reader(io.StringIO(cost)))) == 5  # heading, three projects, the total


def test_resources_page_highlights_over_allocation(as_user):
    html = as_user("rita").html("/portfolio/resources?from=2026-12")
    assert "December 2026 allocated" in html and "Frontend developer" in html
    assert 'class="num over"' in html and "(over capacity)" in html
    assert "ALP-001 Alpha, BET-002 Beta" in html


def test_process_analytics_page_and_heat_map(portfolio_app, with_tasks, web):
    html = Browser(web, "owen").html("/portfolio/processes?period=90&process=change_request")
    assert "Waiting time per step, the last 90 days" in html and "Approve (PM tolerance)" in html
    assert 'id="heat-data"' in html and "bpmn-navigated-viewer" in html
    assert "Project initiation" in html


def test_printable_report(as_user):
    html = as_user("petra").html("/portfolio/report")
    assert "Portfolio status report" in html and "€190,000" in html
    assert 'data-testid="report-projects">3<' in html


def test_api_dashboard_and_openapi(portfolio_app, seeded_portfolio, api):
    r = api.get("/portfolio/dashboard?phase=execution", "petra")
    assert r.status_code == 200
    cost = r.get_json()["tables"]["cost"]
    assert cost["total"]["baseline"] == 120000.0 and cost["rows"][0]["project_id"] == 1
    health = r.get_json()["tables"]["health"]["rows"][0]
    assert health["as_of"] == "2026-11-27"
    assert api.get("/portfolio/dashboard", "maria").status_code == 403
    assert api.get("/portfolio/dashboard?phase=sideways", "petra").status_code == 422
    assert api.get("/portfolio/resources?from=2026-12", "rita").get_json()["tables"]["by_role"]["rows"][0]["m0"] == 5.0
    assert api.get("/portfolio/processes", "sam").status_code == 403
    paths = api.get("/openapi.json").get_json()["paths"]
    assert {"/api/v1/portfolio/dashboard", "/api/v1/portfolio/resources", "/api/v1/portfolio/processes",
            "/api/v1/portfolio/processes/{process_id}/heat-map"} <= set(paths)


def test_api_heat_map(portfolio_app, with_tasks, api):
    r = api.get("/portfolio/processes/change_request/heat-map?period=90", "petra")
    assert r.status_code == 200 and r.get_json()["marks"]["pm_decision"]["median"] == 4.0
    assert api.get("/portfolio/processes/nothing_here/heat-map", "petra").status_code == 404
