"""The API's JSON renderer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import renderers


class _AsciiJSONRenderer(renderers.JSONRenderer):
    ensure_ascii = True


class JSONRenderer(renderers.JSONRenderer):
    """DRF's JSON renderer, escaping what UTF-8 cannot encode instead of failing with a 500.

    Only an unpaired surrogate is such a character, and the only answer that can carry one is
    the pointer of an ``INVALID_STRING`` error naming a bad object key: it is then written as
    a ``\\udXXX`` escape, which JSON allows and clients decode back to the same key.
    """

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: Mapping[str, Any] | None = None,
    ) -> bytes:
        try:
            return super().render(data, accepted_media_type, renderer_context)
        except UnicodeEncodeError:
            return _AsciiJSONRenderer().render(data, accepted_media_type, renderer_context)
