"""The API's JSON parser."""

from __future__ import annotations

import codecs
import math
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser
from rest_framework.utils import json


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text} is out of range")
    return value


class FiniteJSONParser(JSONParser):
    """DRF's JSON parser, also refusing numbers that overflow to infinity (``1e999``).

    NaN and Infinity tokens are refused by DRF's json module; an overflowing literal would reach
    the database as a value JSON cannot represent.
    """

    def parse(
        self, stream: Any, media_type: str | None = None, parser_context: dict | None = None
    ) -> Any:
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            decoded = codecs.getreader(encoding)(stream)
            return json.load(
                decoded, parse_constant=json.strict_constant, parse_float=_finite_float
            )
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc
        except RecursionError:
            raise ParseError("JSON parse error - the document is nested too deeply") from None
