"""One dashboard per strategy family: every version's runs, a version filter, markers where
the version changed, time buckets that fit the window, whole-number points bins, and an A/B
compare that picks strategies by name and shows its deltas in the cards' units."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from gamification.models import Realm
from observability import selectors
from observability.bins import PointsRange, points_bins
from observability.windows import series_bucket
from strategies.models import StrategyDefinition
from strategies.services import strategy_create, strategy_edit, strategy_publish
from tests.factories import RealmFactory, is_missing, member_client, strategy_program_full
from tests.observability.conftest import log_make

pytestmark = pytest.mark.django_db

FAMILY = "admin:observability_family_dashboard"
VERSION = "admin:observability_dashboard"
COMPARE = "admin:observability_compare"
INDEX = "admin:observability_dashboard_index"


@dataclass
class Family:
    realm: Realm
    v1: StrategyDefinition
    v2: StrategyDefinition
    v3: StrategyDefinition


def family(slug: str, name: str = "speed-bonus") -> Family:
    """Three versions (v3 live) with 4, 3 and 2 ok runs of 10, 20 and 30 points, 20, 12 and
    3 hours ago."""
    realm = RealmFactory(slug=slug)
    v1 = strategy_create(realm=realm, name=name, type="DSL_FULL", ast_json=strategy_program_full())
    strategy_publish(strategy=v1)
    v2 = strategy_edit(strategy=v1, changes={"ast_json": strategy_program_full(5)}).strategy
    strategy_publish(strategy=v2)
    v3 = strategy_edit(strategy=v2, changes={"ast_json": strategy_program_full(7)}).strategy
    strategy_publish(strategy=v3)
    now = timezone.now()
    for version, count, hours_ago in ((v1, 4, 20), (v2, 3, 12), (v3, 2, 3)):
        for n in range(count):
            log_make(
                realm=realm,
                strategy_id=f"custom:{v1.pk}",  # games stay bound to the first version's id
                definition_id=version.pk,
                strategy_version=str(version.version),
                created_at=now - timedelta(hours=hours_ago, minutes=n),
                sampled=False,
                sample_rate=1.0,
                points=version.version * 10,
                external_user_id=f"{slug}-v{version.version}-{n}",
            )
    return Family(realm, *(StrategyDefinition.objects.get(pk=v.pk) for v in (v1, v2, v3)))


@pytest.fixture
def speed() -> Family:
    return family("studio")


@pytest.fixture
def operator(speed: Family):
    return member_client("otto", speed.realm, "operator")


def rows_logged(body: str) -> int:
    return int(re.search(r"(\d+) rows logged", body).group(1))


# -- the family dashboard ----------------------------------------------------------------------
def test_the_family_dashboard_counts_the_runs_of_every_version(speed, operator):
    response = operator.get(reverse(FAMILY, args=[speed.v1.pk]), {"window": "24h"})
    assert response.status_code == 200
    body = response.content.decode()
    assert rows_logged(body) == 9
    versions = {row["version"]: row for row in response.context["versions"]}
    assert {number: row["rows"] for number, row in versions.items()} == {3: 2, 2: 3, 1: 4}
    assert versions[3]["status"] == "live"
    assert versions[1]["status"] == "archived"


def test_every_version_id_opens_the_same_family_dashboard(speed, operator):
    pages = [
        operator.get(reverse(FAMILY, args=[version.pk]), {"window": "24h"})
        for version in (speed.v1, speed.v2, speed.v3)
    ]
    assert {page.context["title"] for page in pages} == {
        "Dashboard: speed-bonus, all versions (v1\u2013v3)"
    }
    assert {rows_logged(page.content.decode()) for page in pages} == {9}


def test_the_version_filter_keeps_one_versions_runs(speed, operator):
    url = reverse(FAMILY, args=[speed.v3.pk])
    response = operator.get(url, {"window": "24h", "version": "2"})
    assert response.status_code == 200
    assert rows_logged(response.content.decode()) == 3
    assert response.context["title"] == "Dashboard: speed-bonus v2"
    # The table of versions still lists them all, to switch to another.
    assert [row["version"] for row in response.context["versions"]] == [3, 2, 1]
    assert operator.get(url, {"version": "9"}).status_code == 404
    assert operator.get(url, {"version": "two"}).status_code == 404


def test_a_versions_own_url_shows_its_family_page_filtered_to_it(speed, operator):
    response = operator.get(reverse(VERSION, args=[str(speed.v2.pk)]), {"window": "24h"})
    assert response.status_code == 200
    body = response.content.decode()
    assert response.context["title"] == "Dashboard: speed-bonus v2"
    assert rows_logged(body) == 3
    assert 'id="version-picker"' in body
    assert reverse(FAMILY, args=[speed.v3.pk]) in body  # the picker's "All versions"


def test_titles_name_the_strategy_never_its_uuid(speed, operator):
    for url in (
        reverse(FAMILY, args=[speed.v1.pk]),
        reverse(VERSION, args=[str(speed.v1.pk)]),
        reverse(VERSION, args=[speed.v1.strategy_id]),
    ):
        response = operator.get(url)
        h1 = re.search(r"<h1>(.*?)</h1>", response.content.decode()).group(1)
        assert "speed-bonus" in h1
        assert not re.search(r"[0-9a-f]{8}-[0-9a-f]{4}", h1), h1


def test_version_changes_are_marked_on_the_time_series(speed, operator):
    response = operator.get(reverse(FAMILY, args=[speed.v1.pk]), {"window": "24h"})
    runs_chart = str(response.context["panels"][0]["runs_chart"])
    markers = re.findall(r'<g class="marker"><title>(v\d) first ran at ', runs_chart)
    assert markers == ["v2", "v3"]  # v1 was running when the window starts
    filtered = operator.get(reverse(FAMILY, args=[speed.v1.pk]), {"window": "24h", "version": "3"})
    assert 'class="marker"' not in str(filtered.context["panels"][0]["runs_chart"])


def test_the_family_dashboard_counts_only_its_own_realms_rows(speed, admin_client):
    stray = log_make(realm=RealmFactory(slug="elsewhere"), definition_id=speed.v1.pk)
    response = admin_client.get(reverse(FAMILY, args=[speed.v1.pk]), {"window": "24h"})
    assert rows_logged(response.content.decode()) == 9
    assert stray.external_user_id not in response.content.decode()


# -- realm scoping -----------------------------------------------------------------------------
def test_another_realms_family_is_a_404(speed):
    rival = family("rival", name="speed-bonus")  # the same name in another realm
    client = member_client("olga", rival.realm, "operator")
    assert is_missing(client.get(reverse(FAMILY, args=[speed.v1.pk])))
    assert is_missing(client.get(reverse(FAMILY, args=["0190a5b0-0000-7000-8000-00000000dead"])))
    own = client.get(reverse(FAMILY, args=[rival.v1.pk]), {"window": "24h"})
    assert own.status_code == 200
    assert rows_logged(own.content.decode()) == 9
    assert "studio-v1-0" not in own.content.decode()
    compare = reverse(COMPARE)
    assert client.get(compare, {"a": f"family:{speed.v1.pk}", "b": "default"}).status_code == 404
    assert client.get(compare, {"a": "family:not-a-uuid", "b": "default"}).status_code == 404


@pytest.mark.parametrize("role", ["designer", "publisher"])
def test_non_operators_are_refused_the_family_dashboard(speed, role):
    client = member_client(f"{role}-studio", speed.realm, role)
    assert client.get(reverse(FAMILY, args=[speed.v1.pk])).status_code == 403


def test_a_superuser_opens_every_realms_family(speed, admin_client):
    response = admin_client.get(reverse(FAMILY, args=[speed.v2.pk]), {"window": "24h"})
    assert response.status_code == 200
    assert rows_logged(response.content.decode()) == 9


# -- links to the dashboards -------------------------------------------------------------------
def test_the_admin_index_and_sidebar_link_the_dashboards_for_operators(speed, operator):
    link = f'href="{reverse(INDEX)}"'
    index = operator.get(reverse("admin:index")).content.decode()
    assert link in index
    assert "Strategy dashboards" in index
    sidebar = operator.get(reverse("admin:observability_strategyexecutionlog_changelist"))
    assert 'id="nav-sidebar"' in sidebar.content.decode()
    assert link in sidebar.content.decode().split('id="nav-sidebar"', 1)[1]
    designer = member_client("dana", speed.realm, "designer")
    assert link not in designer.get(reverse("admin:index")).content.decode()


def test_the_strategy_change_page_links_its_dashboard_for_operators(speed, operator):
    change = reverse("admin:strategies_strategydefinition_change", args=[speed.v2.pk])
    body = operator.get(change).content.decode()
    assert f'href="{reverse(FAMILY, args=[speed.v2.pk])}" id="strategy-link-dashboard"' in body
    designer = member_client("dana", speed.realm, "designer")
    assert 'id="strategy-link-dashboard"' not in designer.get(change).content.decode()


def test_the_dashboard_index_lists_each_family_once_with_its_versions(speed, operator):
    response = operator.get(reverse(INDEX))
    body = response.content.decode()
    assert body.count(f'href="{reverse(FAMILY, args=[speed.v3.pk])}"') == 1
    for version in (speed.v1, speed.v2, speed.v3):
        assert reverse(VERSION, args=[str(version.pk)]) in body
    assert [row["name"] for row in response.context["families"]] == ["speed-bonus"]


# -- time buckets ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("span", "name", "buckets"),
    [
        (timedelta(minutes=10), "30 seconds", 20),
        (timedelta(minutes=30), "minute", 30),
        (timedelta(hours=1), "5 minutes", 12),
        (timedelta(hours=24), "hour", 24),
        (timedelta(days=2), "3 hours", 16),
        (timedelta(days=7), "6 hours", 28),
        (timedelta(days=30), "day", 30),
        (timedelta(days=400), "week", 58),
    ],
)
def test_the_bucket_width_fits_the_window(span, name, buckets):
    since = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday midnight: buckets align with it
    bucket = series_bucket(since, since + span)
    assert bucket.name == name
    assert -(-span // bucket.width) == buckets


def test_a_short_window_gets_several_buckets_not_one(realm):
    until = datetime(2026, 3, 2, 5, 30, tzinfo=UTC)
    log_make(realm=realm, created_at=until - timedelta(minutes=7))
    stats = selectors.execution_log_stats(
        strategy_id="custom:0190a5b0-0000-7000-8000-000000000001",
        realm=realm,
        since=until - timedelta(minutes=30),
        until=until,
    )
    assert stats.bucket == "minute"
    assert len(stats.series) == 30
    assert [p.rows for p in stats.series].count(1) == 1
    assert sum(p.rows for p in stats.series) == 1


def test_a_24_hour_window_with_one_busy_hour_draws_a_line_over_every_hour(realm, admin_client):
    log_make(realm=realm, created_at=timezone.now() - timedelta(hours=2))
    response = admin_client.get(
        reverse(VERSION, args=["0190a5b0-0000-7000-8000-000000000001"]), {"window": "24h"}
    )
    chart = str(response.context["panels"][0]["runs_chart"])
    assert chart.count("<circle") == 25  # every hour the window touches, the quiet ones too
    assert chart.count("<polyline") == 1
    ticks = re.findall(r'<text class="tick"[^>]*>([^<]+)</text>', chart)
    assert len(ticks) == 5
    assert len(set(ticks)) == 5, ticks  # not "05:00 ... 05:00"
    assert all(re.fullmatch(r"\d\d-\d\d \d\d:00", tick) for tick in ticks), ticks


def test_a_series_of_seconds_labels_its_axis_with_seconds(realm):
    from observability import presenters

    until = datetime(2026, 3, 2, 5, 0, 30, tzinfo=UTC)
    log_make(realm=realm, created_at=until - timedelta(seconds=3))
    stats = selectors.execution_log_stats(
        strategy_id="custom:0190a5b0-0000-7000-8000-000000000001",
        realm=realm,
        since=until - timedelta(seconds=30),
        until=until,
    )
    assert stats.bucket == "second"
    chart = str(presenters.dashboard_panel(stats, strategy_id="x")["runs_chart"])
    ticks = re.findall(r'<text class="tick"[^>]*>([^<]+)</text>', chart)
    assert ticks[0] == "05:00:00"
    assert ticks[-1] == "05:00:30"


# -- points bins -------------------------------------------------------------------------------
def test_whole_points_get_one_bin_per_number_when_few():
    bins = points_bins(PointsRange(lo=1, hi=10, integral=True))
    assert (bins.width, bins.count) == (1, 10)
    assert [start for start, _ in bins.edges()] == list(range(1, 11))
    assert [bins.index(p) for p in (1, 5, 10)] == [0, 4, 9]


def test_a_wide_range_of_whole_points_gets_bins_of_whole_width():
    bins = points_bins(PointsRange(lo=0, hi=95, integral=True))
    assert bins.width == 10
    assert bins.count == 10
    assert all(start == int(start) for start, _ in bins.edges())
    assert bins.edges()[-1] == (90, 95)
    fractional = points_bins(PointsRange(lo=0, hi=1, integral=False))
    assert (fractional.width, fractional.count) == (0.1, 10)


@pytest.mark.parametrize("fallback", [False, True])
def test_integer_points_fall_in_integer_bins_labelled_as_integers(realm, admin_client, fallback):
    for points in (1, 5, 5, 10):
        log_make(realm=realm, points=points, sampled=False, sample_rate=1.0)
    scope = {"since": timezone.now() - timedelta(hours=1), "until": timezone.now()}
    strategy = "custom:0190a5b0-0000-7000-8000-000000000001"
    if fallback:
        queryset = selectors.execution_logs_for(strategy_id=strategy, realm=realm, **scope)
        bucket = series_bucket(scope["since"], scope["until"])
        stats = selectors._stats_build(
            selectors._figures_python(queryset, bucket=bucket),
            strategy_id=strategy,
            bucket=bucket,
            **scope,
        )
    else:
        stats = selectors.execution_log_stats(strategy_id=strategy, realm=realm, **scope)
    histogram = {bucket.start: bucket.rows for bucket in stats.points_histogram}
    assert histogram == {float(n): {1: 1, 5: 2, 10: 1}.get(n, 0) for n in range(1, 11)}
    assert stats.points_integral
    if not fallback:
        response = admin_client.get(reverse(VERSION, args=[strategy]), {"window": "24h"})
        chart = str(response.context["panels"][0]["points_chart"])
        labels = re.findall(r'<text x="[^"]+" y="[^"]+" font-size="9"[^>]*>([^<]+)</text>', chart)
        assert labels == [str(n) for n in range(1, 11)]


def test_wide_integer_bins_are_labelled_by_their_whole_numbers(realm, admin_client):
    for points in (0, 7, 25):
        log_make(realm=realm, points=points)
    response = admin_client.get(
        reverse(VERSION, args=["0190a5b0-0000-7000-8000-000000000001"]), {"window": "24h"}
    )
    chart = str(response.context["panels"][0]["points_chart"])
    labels = re.findall(r'<text x="[^"]+" y="[^"]+" font-size="9"[^>]*>([^<]+)</text>', chart)
    assert labels == [f"{low}\u2013{min(low + 2, 25)}" for low in range(0, 25, 3)]


# -- compare -----------------------------------------------------------------------------------
def test_both_sides_of_a_compare_share_their_points_bins(speed, operator):
    response = operator.get(
        reverse(COMPARE),
        {"a": str(speed.v1.pk), "b": str(speed.v3.pk), "window": "24h"},  # 10 points vs 30
    )
    assert response.status_code == 200
    a, b = (panel["points_chart"] for panel in response.context["panels"])
    bars = r'<text x="[^"]+" y="[^"]+" font-size="9"[^>]*>([^<]+)</text>'
    assert re.findall(bars, str(a)) == re.findall(bars, str(b))
    assert re.findall(bars, str(a))[0] == "10\u201311"
    assert re.findall(bars, str(a))[-1] == "28\u201330"


def test_compare_uses_shared_points_range_in_the_selector(speed):
    scope = {"since": timezone.now() - timedelta(days=1), "until": timezone.now()}
    ranges = [
        selectors.execution_log_points_range(
            strategy_id=version.strategy_id, realm=speed.realm, **scope
        )
        for version in (speed.v1, speed.v2)
    ]
    assert ranges == [PointsRange(10, 10, True), PointsRange(20, 20, True)]
    shared = ranges[0].union(ranges[1])
    a, b = (
        selectors.execution_log_stats(
            strategy_id=version.strategy_id, realm=speed.realm, points_range=shared, **scope
        )
        for version in (speed.v1, speed.v2)
    )
    edges = [[(p.start, p.end) for p in stats.points_histogram] for stats in (a, b)]
    assert edges[0] == edges[1]
    assert [p.rows for p in a.points_histogram] == [4] + [0] * 9
    assert [p.rows for p in b.points_histogram] == [0] * 9 + [3]


def test_the_compare_form_picks_strategies_and_versions_by_name(speed, operator):
    family("rival")  # another realm's strategy is never offered
    response = operator.get(reverse(COMPARE))
    body = response.content.decode()
    assert '<input type="text" name="a"' not in body
    options = dict(re.findall(r'<option value="([^"]*)"[^>]*>([^<]+)</option>', body))
    assert options[f"family:{speed.v3.pk}"] == "speed-bonus, all versions"
    assert options[str(speed.v3.pk)] == "speed-bonus v3 (live)"
    assert options[str(speed.v1.pk)] == "speed-bonus v1 (archived)"
    assert options["default"] == "default"
    assert "rival" not in body
    index = operator.get(reverse(INDEX)).content.decode()
    assert f'<option value="{speed.v2.pk}">speed-bonus v2 (archived)</option>' in index


def test_a_family_compares_with_one_of_its_versions(speed, operator):
    response = operator.get(
        reverse(COMPARE), {"a": f"family:{speed.v1.pk}", "b": str(speed.v3.pk), "window": "24h"}
    )
    assert [panel["name"] for panel in response.context["panels"]] == [
        "speed-bonus, all versions (v1\u2013v3)",
        "speed-bonus v3",
    ]
    assert response.context["delta"].estimated_runs == pytest.approx(2 - 9)
    body = response.content.decode()
    # The picked sides stay selected.
    assert f'<option value="family:{speed.v3.pk}" selected>' in body
    assert f'<option value="{speed.v3.pk}" selected>' in body


def test_compare_deltas_are_in_the_cards_units_with_human_labels(realm, admin_client):
    a, b = "0190a5b0-0000-7000-8000-00000000000a", "0190a5b0-0000-7000-8000-00000000000b"
    for n in range(4):
        log_make(realm=realm, definition_id=a, status="error" if n == 0 else "ok", sampled=False)
        log_make(realm=realm, definition_id=b, duration_ms=3.5, sampled=False, sample_rate=1.0)
    response = admin_client.get(reverse(COMPARE), {"a": a, "b": b, "window": "24h"})
    rows = {label: (va, vb, d) for label, va, vb, d in response.context["delta_rows"]}
    assert rows["Error rate"] == ("25.00 %", "0.00 %", "\u221225.00 %")
    assert rows["Success rate"] == ("75.00 %", "100.00 %", "+25.00 %")
    assert rows["p50"] == ("1.00 ms", "3.50 ms", "+2.50 ms")
    assert rows["Runs (estimated)"] == ("4", "4", "0")
    body = response.content.decode()
    table = body.split('id="compare-delta"', 1)[1].split("</table>", 1)[0]
    assert "<th>Error rate</th>" in table
    assert not re.search(r"[a-z][A-Z]", re.sub(r"<[^>]+>", " ", table)), table  # no camelCase
    assert "0.25" not in table


def test_the_compare_api_keeps_its_names_and_raw_fractions(realm, api):
    a, b = "0190a5b0-0000-7000-8000-00000000000a", "0190a5b0-0000-7000-8000-00000000000b"
    log_make(realm=realm, definition_id=a, status="error", sampled=False)
    log_make(realm=realm, definition_id=b, sampled=False, sample_rate=1.0)
    body = api.get("/api/v1/strategies/custom/compare", {"a": a, "b": b, "window": "24h"}).json()
    assert body["delta"]["errorRate"] == pytest.approx(-1)
    assert body["a"]["bucketSeconds"] == 3600
