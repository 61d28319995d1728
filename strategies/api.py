"""The custom-strategy API: authoring, lifecycle and simulation, scoped to the key's realm."""

from __future__ import annotations

from typing import Any

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer
from rest_framework.views import APIView

from gamification.auth import request_api_key, request_realm
from scoring.strategy_types import StrategyKind
from strategies import backtests, selectors, services
from strategies.models import StrategyDefinition, StrategyStatus
from strategies.serializers import (
    BacktestQueuedSerializer,
    BacktestRequestSerializer,
    BacktestSerializer,
    BundleSerializer,
    DuplicateSerializer,
    ExperimentReportSerializer,
    ExperimentSerializer,
    ExperimentStartSerializer,
    ImportSerializer,
    PromotionSerializer,
    RollbackSerializer,
    SimulateSerializer,
    SimulateUnsavedSerializer,
    SimulationResultSerializer,
    StrategyDefinitionSerializer,
    StrategyUpdateSerializer,
    SwitchSerializer,
    UsageSerializer,
    backtest_body,
    experiment_report_body,
    promotion_body,
    simulation_body,
)
from strategies.services import Switch
from strategies.simulation import simulation_run

TAG = ["custom strategies"]


class StrategyFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=StrategyStatus.choices)
    type = django_filters.ChoiceFilter(choices=StrategyKind.choices)
    name = django_filters.CharFilter()
    nameContains = django_filters.CharFilter(field_name="name", lookup_expr="icontains")
    experimentTag = django_filters.CharFilter(field_name="experiment_tag")

    class Meta:
        model = StrategyDefinition
        fields = ["status", "type", "name", "nameContains", "experimentTag"]


def _switch_body(switch: Switch) -> dict[str, Any]:
    """Render a switch as ``SwitchSerializer`` documents it: the version and the counts."""
    return {
        **StrategyDefinitionSerializer(switch.strategy).data,
        "switchedGames": switch.games,
        "switchedTasks": switch.tasks,
    }


def _strategy(request: Request, strategy_id: str) -> StrategyDefinition:
    """The version of the URL, in the realm of the caller's key."""
    return selectors.strategy_get(realm=request_realm(request), strategy_id=strategy_id)


@extend_schema(tags=TAG)
class StrategyListCreateView(generics.ListCreateAPIView):
    """List every version of the realm's custom strategies, or create a new one (v1 DRAFT)."""

    serializer_class = StrategyDefinitionSerializer
    filterset_class = StrategyFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no realm
            return StrategyDefinition.objects.none()
        return selectors.strategy_list(realm=request_realm(self.request))

    def perform_create(self, serializer: BaseSerializer[StrategyDefinition]) -> None:
        data = serializer.validated_data
        serializer.instance = services.strategy_create(
            realm=request_realm(self.request),
            api_key=request_api_key(self.request),
            name=data["name"],
            type=data["type"],
            description=data.get("description", ""),
            parent_strategy_id=data.get("parent_strategy_id") or None,
            ast_json=data.get("ast_json"),
            blockly_xml=data.get("blockly_xml", ""),
            experiment_tag=data.get("experiment_tag"),
        )


@extend_schema(tags=TAG)
class StrategyDetailView(generics.GenericAPIView):
    serializer_class = StrategyDefinitionSerializer

    def get(self, request: Request, strategy_id: str) -> Response:
        return Response(StrategyDefinitionSerializer(_strategy(request, strategy_id)).data)

    @extend_schema(
        request=StrategyUpdateSerializer,
        responses={200: StrategyDefinitionSerializer, 201: StrategyDefinitionSerializer},
        description="Edit a DRAFT in place (200). Editing the PUBLISHED version leaves it "
        "untouched and answers 201 with the new version+1 DRAFT. ARCHIVED versions are "
        "read-only (409).",
    )
    def patch(self, request: Request, strategy_id: str) -> Response:
        payload = StrategyUpdateSerializer(data=request.data, partial=True)
        payload.is_valid(raise_exception=True)
        changes = dict(payload.validated_data)
        if "parent_strategy_id" in changes:
            changes["parent_strategy_id"] = changes["parent_strategy_id"] or None
        outcome = services.strategy_edit(
            strategy=_strategy(request, strategy_id),
            changes=changes,
            api_key=request_api_key(request),
        )
        return Response(
            StrategyDefinitionSerializer(outcome.strategy).data,
            status=status.HTTP_201_CREATED if outcome.created else status.HTTP_200_OK,
        )


@extend_schema(tags=TAG)
class StrategyPublishView(APIView):
    @extend_schema(request=None, responses=SwitchSerializer)
    def post(self, request: Request, strategy_id: str) -> Response:
        """Publish a DRAFT: the published sibling is archived and its consumers follow."""
        switch = services.strategy_publish(
            strategy=_strategy(request, strategy_id), api_key=request_api_key(request)
        )
        return Response(_switch_body(switch))


@extend_schema(tags=TAG)
class StrategyArchiveView(APIView):
    @extend_schema(request=None, responses=StrategyDefinitionSerializer)
    def post(self, request: Request, strategy_id: str) -> Response:
        """Archive a version; archiving the published one stops the family from scoring."""
        row = services.strategy_archive(
            strategy=_strategy(request, strategy_id), api_key=request_api_key(request)
        )
        return Response(StrategyDefinitionSerializer(row).data)


@extend_schema(tags=TAG)
class StrategyRollbackView(APIView):
    @extend_schema(request=RollbackSerializer, responses=SwitchSerializer)
    def post(self, request: Request, strategy_id: str) -> Response:
        """Make an earlier version of the family live again; its consumers follow."""
        payload = RollbackSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        switch = services.strategy_rollback(
            strategy=_strategy(request, strategy_id),
            version=payload.validated_data["version"],
            api_key=request_api_key(request),
        )
        return Response(_switch_body(switch))


@extend_schema(tags=TAG)
class StrategyVersionsView(APIView):
    @extend_schema(responses=StrategyDefinitionSerializer(many=True))
    def get(self, request: Request, strategy_id: str) -> Response:
        """Every version of the strategy's family, newest first, with who created, published
        and archived each one (``createdBy``, ``publishedBy``, ``archivedBy``) and when."""
        rows = selectors.strategy_versions(strategy=_strategy(request, strategy_id))
        return Response(StrategyDefinitionSerializer(rows, many=True).data)


@extend_schema(tags=TAG)
class StrategyUsageView(APIView):
    @extend_schema(responses=UsageSerializer)
    def get(self, request: Request, strategy_id: str) -> Response:
        """The games and tasks bound to any version of the strategy's family."""
        usage = selectors.strategy_usage(strategy=_strategy(request, strategy_id))
        return Response(UsageSerializer(usage).data)


@extend_schema(tags=TAG)
class StrategyDuplicateView(APIView):
    @extend_schema(request=DuplicateSerializer, responses={201: StrategyDefinitionSerializer})
    def post(self, request: Request, strategy_id: str) -> Response:
        """Copy this version into a new family (v1 DRAFT)."""
        payload = DuplicateSerializer(data=request.data or {})
        payload.is_valid(raise_exception=True)
        row = services.strategy_duplicate(
            strategy=_strategy(request, strategy_id),
            name=payload.validated_data.get("name"),
            api_key=request_api_key(request),
        )
        return Response(StrategyDefinitionSerializer(row).data, status=status.HTTP_201_CREATED)


@extend_schema(tags=TAG)
class StrategyExportView(APIView):
    @extend_schema(responses=BundleSerializer)
    def get(self, request: Request, strategy_id: str) -> Response:
        """This version as a portable JSON bundle."""
        bundle = selectors.strategy_export(strategy=_strategy(request, strategy_id))
        return Response(BundleSerializer(bundle).data)


@extend_schema(tags=TAG)
class StrategyImportView(APIView):
    @extend_schema(request=ImportSerializer, responses={201: StrategyDefinitionSerializer})
    def post(self, request: Request) -> Response:
        """Create a DRAFT from a bundle: a new family, or the next version of an existing one."""
        payload = ImportSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        row = services.strategy_import(
            realm=request_realm(request),
            bundle=payload.validated_data,
            api_key=request_api_key(request),
        )
        return Response(StrategyDefinitionSerializer(row).data, status=status.HTTP_201_CREATED)


def _simulation_inputs(data: dict) -> dict:
    return {
        "external_user_id": data["externalUserId"],
        "data": data["data"],
        "mock_state": data["mockState"],
        "external_game_id": data.get("externalGameId"),
        "external_task_id": data.get("externalTaskId"),
    }


@extend_schema(tags=TAG)
class StrategySimulateView(APIView):
    @extend_schema(request=SimulateSerializer, responses=SimulationResultSerializer)
    def post(self, request: Request, strategy_id: str) -> Response:
        """Dry-run this version (any status) with its real type; nothing is stored."""
        payload = SimulateSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        row = _strategy(request, strategy_id)
        simulation = simulation_run(
            realm=request_realm(request),
            type=row.type,
            parent_strategy_id=row.parent_strategy_id,
            ast_json=row.ast_json,
            definition=row,
            **_simulation_inputs(payload.validated_data),
        )
        return Response(simulation_body(simulation))


@extend_schema(tags=TAG)
class StrategySimulateUnsavedView(APIView):
    @extend_schema(request=SimulateUnsavedSerializer, responses=SimulationResultSerializer)
    def post(self, request: Request) -> Response:
        """Dry-run an unsaved program with its real type (DSL_EXTEND runs its parent too)."""
        payload = SimulateUnsavedSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        simulation = simulation_run(
            realm=request_realm(request),
            type=data["type"],
            parent_strategy_id=data.get("parentStrategyId") or None,
            ast_json=data["astJson"],
            **_simulation_inputs(data),
        )
        return Response(simulation_body(simulation))


EXPERIMENT_TAG = ["experiments"]


@extend_schema(tags=EXPERIMENT_TAG)
class StrategyExperimentView(APIView):
    """The experiment of a family, addressed by any of its versions' ids.

    Any key of the realm may start, stop and promote, as it may publish and archive.
    """

    @extend_schema(responses=ExperimentReportSerializer)
    def get(self, request: Request, strategy_id: str) -> Response:
        """The family's running experiment (else its last one) with each arm's figures:
        awards and mean points with a 95 % interval (exact, from the awards), runs, error
        rate and p95 duration (from the execution logs, corrected for sampling), and Welch's
        t-test of candidate - control."""
        experiment = selectors.experiment_get(strategy=_strategy(request, strategy_id))
        return Response(experiment_report_body(selectors.experiment_report(experiment=experiment)))

    @extend_schema(request=ExperimentStartSerializer, responses={201: ExperimentSerializer})
    def post(self, request: Request, strategy_id: str) -> Response:
        """Start an experiment: the published version is the control, ``candidateId`` (a
        draft of the family, frozen while the experiment runs) scores for ``share`` of the
        players, chosen by a stable hash of realm, family and externalUserId."""
        payload = ExperimentStartSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        experiment = services.experiment_start(
            strategy=_strategy(request, strategy_id),
            candidate_id=data["candidateId"],
            share=data["share"],
            tag=data["tag"],
            api_key=request_api_key(request),
        )
        return Response(ExperimentSerializer(experiment).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses=ExperimentSerializer)
    def delete(self, request: Request, strategy_id: str) -> Response:
        """Stop the running experiment: every player scores with the control again."""
        experiment = services.experiment_stop(
            experiment=selectors.experiment_get(strategy=_strategy(request, strategy_id)),
            api_key=request_api_key(request),
        )
        return Response(ExperimentSerializer(experiment).data)


@extend_schema(tags=EXPERIMENT_TAG)
class StrategyExperimentPromoteView(APIView):
    @extend_schema(request=None, responses=PromotionSerializer)
    def post(self, request: Request, strategy_id: str) -> Response:
        """Publish the running experiment's candidate (the control is archived, bound games
        and tasks follow) and mark the experiment promoted."""
        promotion = services.experiment_promote(
            experiment=selectors.experiment_get(strategy=_strategy(request, strategy_id)),
            api_key=request_api_key(request),
        )
        return Response(promotion_body(promotion))


@extend_schema(tags=TAG)
class StrategyBacktestView(APIView):
    @extend_schema(request=BacktestRequestSerializer, responses={202: BacktestQueuedSerializer})
    def post(self, request: Request, strategy_id: str) -> Response:
        """Queue a backtest of this version (any status): its program runs over the awards
        of [since, until) on the tasks bound to any version of its family, each with the
        analytics it had then, and is compared with what was awarded. Poll
        ``GET /api/v1/backtests/{id}`` for its progress and report."""
        payload = BacktestRequestSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        backtest = backtests.backtest_request(
            strategy=_strategy(request, strategy_id),
            since=data["since"],
            until=data["until"],
            max_events=data["maxEvents"],
            api_key=request_api_key(request),
        )
        return Response(
            {"id": str(backtest.pk), "status": backtest.status},
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": f"/api/v1/backtests/{backtest.pk}"},
        )


@extend_schema(tags=TAG)
class BacktestDetailView(APIView):
    @extend_schema(responses=BacktestSerializer)
    def get(self, request: Request, backtest_id: str) -> Response:
        """A backtest's status, progress (0..1) and report; counts are partial while it runs,
        top movers and the points distribution come when it is done."""
        backtest = backtests.backtest_get(realm=request_realm(request), backtest_id=backtest_id)
        return Response(backtest_body(backtest))
