"""The scoring endpoint game servers call, and the catalogue of built-in strategies."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseBase
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from gamification import selectors
from gamification.api import TaskPointsReadMixin
from gamification.auth import HEADER, api_key_authenticated, api_key_rate_wait, request_api_key
from gamification.errors import exception_handler
from gamification.models import ApiKey
from gamification.parsers import request_json_load
from gamification.renderers import JSONRenderer
from scoring.batch import BatchEvent, award_batch
from scoring.builtins.registry import ALIASES, builtin_list, builtin_version_hash
from scoring.serializers import (
    AwardBatchRequestSerializer,
    AwardBatchResponseSerializer,
    AwardRequestSerializer,
    AwardResponseSerializer,
    BuiltinStrategySerializer,
    award_batch_event_validated,
    award_batch_events,
    award_request_validated,
)
from scoring.services import AwardOutcome, award_points

IDEMPOTENCY_HEADER = "Idempotency-Key"
_JSON_CONTENT_TYPES = frozenset({"application/json", "application/json;charset=utf-8"})
_JSON_ACCEPTS = frozenset({None, "*/*", "application/json"})


def _award_request_ordinary(request: HttpRequest) -> bool:
    """Whether DRF would negotiate, authenticate and parse ``request`` as the lean path does.

    That is a POST of JSON (in UTF-8) with an API key, answered in the one JSON rendering
    (no Accept other than ``*/*`` or ``application/json``, no ``?format=``).
    """
    return (
        request.method == "POST"
        and HEADER in request.headers
        and request.META.get("CONTENT_TYPE", "").replace(" ", "").lower() in _JSON_CONTENT_TYPES
        and request.META.get("HTTP_ACCEPT") in _JSON_ACCEPTS
        and api_settings.URL_FORMAT_OVERRIDE not in request.GET
    )


def _award_answer(
    *,
    api_key: ApiKey,
    document: Any,
    idempotency_key: str | None,
    external_game_id: str,
    external_task_id: str,
) -> HttpResponse:
    """Validate an award request's JSON document and header, score the event, answer it."""
    payload = award_request_validated(document)
    idempotency_key = idempotency_key or None
    if idempotency_key is not None and len(idempotency_key) > 255:
        raise serializers.ValidationError({IDEMPOTENCY_HEADER: ["At most 255 characters."]})
    realm = api_key.realm
    task = selectors.task_for_award(
        realm=realm, external_game_id=external_game_id, external_task_id=external_task_id
    )
    outcome = award_points(
        realm=realm,
        api_key=api_key,
        task=task,
        external_user_id=payload["externalUserId"],
        data=payload["data"],
        idempotency_key=idempotency_key,
        dry_run=payload["dryRun"],
    )
    return HttpResponse(
        outcome.body,
        content_type="application/json",
        status=status.HTTP_201_CREATED if outcome.created else status.HTTP_200_OK,
    )


class TaskPointsView(TaskPointsReadMixin, generics.GenericAPIView):
    serializer_class = AwardRequestSerializer

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        """Serve an ordinary award on the Django request; anything else through DRF.

        Game servers call this endpoint more than all others together, and DRF's per-request
        machinery (the Request wrapper, content negotiation, authenticator, permission and
        throttle objects, parser selection) costs about a quarter of an award's CPU. For a
        request DRF would treat in one known way (``_award_request_ordinary``) the same steps
        run here as plain calls, in DRF's order: the key as ``ApiKeyAuthentication`` checks it
        (``HasRealm`` then always admits it), the key's rate as ``ApiKeyRateThrottle`` counts
        it, the body as ``FiniteJSONParser`` reads it, then ``post``'s own work. An error is
        answered by DRF itself (``_lean_error_response``), so every answer is DRF's to the byte.
        """
        if not _award_request_ordinary(request):
            return super().dispatch(request, *args, **kwargs)
        try:
            api_key = api_key_authenticated(raw=request.headers[HEADER])
            wait = api_key_rate_wait(api_key=api_key)
            if wait is not None:
                raise exceptions.Throttled(wait)
            response = _award_answer(
                api_key=api_key,
                document=request_json_load(request=request),
                idempotency_key=request.headers.get(IDEMPOTENCY_HEADER),
                external_game_id=kwargs["external_game_id"],
                external_task_id=kwargs["external_task_id"],
            )
        except Exception as exc:  # noqa: BLE001 - answered, or raised again, as DRF does
            return self._lean_error_response(request, exc, *args, **kwargs)
        # What finalize_response adds to a response it does not render: ``Allow``.
        for name, value in self.default_response_headers.items():
            response[name] = value
        return response

    def _lean_error_response(
        self, request: HttpRequest, exc: Exception, *args: Any, **kwargs: Any
    ) -> HttpResponseBase:
        """Answer an error of the lean path through DRF's handle_exception and
        finalize_response, on a DRF Request built only now and negotiated as ``initial`` does."""
        self.request = self.initialize_request(request, *args, **kwargs)
        self.headers = self.default_response_headers
        self.format_kwarg = self.get_format_suffix(**kwargs)
        negotiated = self.perform_content_negotiation(self.request)
        self.request.accepted_renderer, self.request.accepted_media_type = negotiated
        response = self.handle_exception(exc)
        return self.finalize_response(self.request, response, *args, **kwargs)

    @extend_schema(
        request=AwardRequestSerializer,
        parameters=[
            OpenApiParameter(
                IDEMPOTENCY_HEADER,
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                description="Retries with the same key replay the first answer (200).",
            )
        ],
        responses={201: AwardResponseSerializer, 200: AwardResponseSerializer},
    )
    def post(self, request: Request, external_game_id: str, external_task_id: str) -> HttpResponse:
        """Score one event with the task's strategy and store the points."""
        return _award_answer(
            api_key=request_api_key(request),
            document=request.data,
            idempotency_key=request.headers.get(IDEMPOTENCY_HEADER),
            external_game_id=external_game_id,
            external_task_id=external_task_id,
        )


def _award_batch_event(event: Any) -> BatchEvent | exceptions.APIException:
    """One event of a batch as the batch service takes it, or the error that answers it."""
    try:
        validated = award_batch_event_validated(event)
    except exceptions.APIException as exc:
        return exc
    award = validated["award"]
    return BatchEvent(
        external_task_id=validated["externalTaskId"],
        external_user_id=award["externalUserId"],
        data=award["data"],
        idempotency_key=validated["idempotencyKey"],
        dry_run=award["dryRun"],
    )


def _award_batch_result(*, index: int, outcome: AwardOutcome | Exception) -> bytes:
    """An event's result: its status and the body the single endpoint would answer."""
    if isinstance(outcome, AwardOutcome):
        status_code, body = (201 if outcome.created else 200), outcome.body
    else:
        handled = exception_handler(outcome, {})
        if handled is None:
            raise outcome
        status_code, body = handled.status_code, JSONRenderer().render(handled.data)
    return b'{"index":%d,"status":%d,"body":%s}' % (index, status_code, body)


class GameBatchPointsView(APIView):
    @extend_schema(
        request=AwardBatchRequestSerializer,
        responses={200: AwardBatchResponseSerializer},
    )
    def post(self, request: Request, external_game_id: str) -> HttpResponse:
        """Score up to 1,000 events of a game, each exactly as the single award endpoint would.

        Every event has its own result (its status and the single endpoint's body) and its
        own Idempotency-Key; one failing event changes nothing for the others. Each event
        counts as one request against the key's rate. A game that does not exist is one 404.
        """
        events = award_batch_events(request.data)
        api_key = request_api_key(request)
        wait = api_key_rate_wait(api_key=api_key, cost=len(events) - 1) if len(events) > 1 else None
        if wait is not None:
            raise exceptions.Throttled(wait)
        # Once for the batch: each event's 404 would repeat the URL's game id, after two reads.
        selectors.game_get(realm=api_key.realm, external_game_id=external_game_id)
        outcomes = award_batch(
            api_key=api_key,
            external_game_id=external_game_id,
            events=[_award_batch_event(event) for event in events],
        )
        results = b",".join(
            _award_batch_result(index=index, outcome=outcome)
            for index, outcome in enumerate(outcomes)
        )
        return HttpResponse(b'{"results":[%s]}' % results, content_type="application/json")


class BuiltinStrategyListView(APIView):
    @extend_schema(responses=BuiltinStrategySerializer(many=True))
    def get(self, request: Request) -> Response:  # noqa: ARG002
        """List the built-in strategies with their tunable variables."""
        payload = [
            {
                "id": strategy.id,
                "aliases": sorted(
                    alias for alias, target in ALIASES.items() if target == strategy.id
                ),
                "description": strategy.description,
                "version": strategy.version,
                "versionHash": builtin_version_hash(strategy.id),
                "variables": dict(strategy.variables),
            }
            for strategy in builtin_list()
        ]
        return Response(BuiltinStrategySerializer(payload, many=True).data)
