"""Experiments in the admin: seen by the realm's roles, stopped and promoted by publishers."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from gamification.models import Realm, RealmRole
from strategies import services
from strategies.models import (
    ExperimentStatus,
    StrategyDefinition,
    StrategyExperiment,
    StrategyStatus,
)
from tests.factories import RealmFactory, is_missing, member_client, strategy_program_full

ADMIN = "admin:strategies_strategyexperiment"
CHANGELIST = reverse(f"{ADMIN}_changelist")


def _experiment(realm: Realm, name: str = "speed") -> StrategyExperiment:
    v1 = services.strategy_create(
        realm=realm, name=name, type="DSL_FULL", ast_json=strategy_program_full(points=10)
    )
    services.strategy_publish(strategy=v1)
    v2 = services.strategy_edit(
        strategy=v1, changes={"ast_json": strategy_program_full(points=20)}
    ).strategy
    return services.experiment_start(strategy=v1, candidate_id=v2.pk, share=0.2, tag=f"{name}-2")


def _history(obj) -> list[str]:
    entries = LogEntry.objects.filter(object_id=str(obj.pk)).order_by("pk")
    return [f"{entry.user.username}: {entry.get_change_message()}" for entry in entries]


def _act(client, action: str, *experiments: StrategyExperiment):
    return client.post(
        CHANGELIST, {"action": action, "_selected_action": [str(e.pk) for e in experiments]}
    )


@pytest.mark.parametrize("role", [RealmRole.DESIGNER, RealmRole.PUBLISHER, RealmRole.OPERATOR])
def test_every_role_of_the_realm_sees_its_experiments_and_no_others(realm, role):
    mine, theirs = _experiment(realm), _experiment(RealmFactory(slug="rival"), "rival-speed")
    client = member_client("ann", realm, role)

    page = client.get(CHANGELIST).content.decode()
    detail = client.get(reverse(f"{ADMIN}_change", args=[mine.pk]))

    assert "speed-2" in page
    assert "rival-speed-2" not in page
    assert detail.status_code == 200
    assert is_missing(client.get(reverse(f"{ADMIN}_change", args=[theirs.pk])))


def test_a_publisher_stops_an_experiment_and_the_history_says_so(realm):
    experiment = _experiment(realm)
    client = member_client("paul", realm, RealmRole.PUBLISHER)

    assert _act(client, "stop_selected", experiment).status_code == 302

    experiment.refresh_from_db()
    assert (experiment.status, experiment.stopped_by.username) == (ExperimentStatus.STOPPED, "paul")
    assert _history(experiment) == ["paul: Stopped; everyone scores with v1 again."]


def test_a_publisher_promotes_the_candidate_and_every_version_records_it(realm):
    experiment = _experiment(realm)
    client = member_client("paul", realm, RealmRole.PUBLISHER)

    _act(client, "promote_selected", experiment)

    experiment.refresh_from_db()
    control, candidate = experiment.control, experiment.candidate
    control.refresh_from_db()
    candidate.refresh_from_db()
    assert experiment.status == ExperimentStatus.PROMOTED
    assert (candidate.status, candidate.published_by.username) == (StrategyStatus.PUBLISHED, "paul")
    assert (control.status, control.archived_by.username) == (StrategyStatus.ARCHIVED, "paul")
    assert _history(experiment) == ["paul: Promoted v2 (0 games, 0 tasks switched)."]
    assert _history(candidate) == [
        "paul: Published v2, promoted from experiment 'speed-2' (0 games, 0 tasks switched)."
    ]
    assert _history(control) == ["paul: Archived: v2 went live in its place."]


@pytest.mark.parametrize("role", [RealmRole.DESIGNER, RealmRole.OPERATOR])
def test_a_designer_or_an_operator_can_neither_stop_nor_promote(realm, role):
    experiment = _experiment(realm)
    client = member_client("dana", realm, role)

    page = client.get(CHANGELIST).content.decode()
    for action in ("stop_selected", "promote_selected"):
        _act(client, action, experiment)

    assert "stop_selected" not in page
    experiment.refresh_from_db()
    assert experiment.status == ExperimentStatus.RUNNING
    assert not LogEntry.objects.exists()


def test_a_publisher_elsewhere_cannot_stop_the_experiments_of_a_realm_they_only_design_in(realm):
    experiment = _experiment(realm)
    client = member_client("paul", RealmFactory(slug="rival"), RealmRole.PUBLISHER)
    member_client("paul", realm, RealmRole.DESIGNER)  # paul's second role, in this realm

    response = client.post(
        CHANGELIST,
        {"action": "stop_selected", "_selected_action": [str(experiment.pk)]},
        follow=True,
    )

    experiment.refresh_from_db()
    assert experiment.status == ExperimentStatus.RUNNING
    assert "not stopped; you are not a publisher in realm acme" in response.content.decode()


def test_a_running_experiments_candidate_is_read_only_in_the_editor(realm):
    experiment = _experiment(realm)
    client = member_client("paul", realm, RealmRole.PUBLISHER)
    candidate = reverse(
        "admin:strategies_strategydefinition_change", args=[experiment.candidate_id]
    )
    body = {"type": "DSL_FULL", "description": "tweak", "ast_json": "{}"}

    refused = client.post(candidate, body)
    services.experiment_stop(experiment=experiment)
    page = client.get(candidate)

    assert refused.status_code == 403
    assert StrategyDefinition.objects.get(pk=experiment.candidate_id).description == ""
    assert b'name="_save"' in page.content
