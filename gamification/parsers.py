"""The API's JSON parser, and the strict reading of a JSON document every JSON endpoint shares.

A document the API accepts has finite numbers only, is nested no deeper than the JSON
decoder can go, and holds no string (value or object key) with a NUL character or an
unpaired UTF-16 surrogate: PostgreSQL stores neither in text or jsonb, and neither can be
encoded as UTF-8 on the way out.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from rest_framework.parsers import JSONParser

from gamification.errors import InvalidString, JsonInvalid, PayloadTooLarge

#: A ``\u0000`` or ``\uD800``-``\uDFFF`` escape, or a raw NUL or surrogate, in the text. A
#: valid pair such as ``\ud83d\ude00`` matches too: the walk then finds nothing to refuse.
_SUSPECT_TEXT = re.compile(r"\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})|[\x00\ud800-\udfff]")
_BAD_CHARACTER = re.compile("[\x00\ud800-\udfff]")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text} is out of range")
    return value


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _pointer(path: tuple | None) -> str:
    """Return the RFC 6901 pointer of a path kept as ``(parent_path, token)`` links."""
    tokens: list[str] = []
    while path is not None:
        path, token = path
        tokens.append(str(token).replace("~", "~0").replace("/", "~1"))
    return "".join(f"/{token}" for token in reversed(tokens))


def json_strings_check(*, value: Any) -> None:
    """Raise InvalidString at the first string, in document order, that no column can store.

    The walk is iterative, so a value nested as deep as the decoder allows is no problem; a
    bad object key is reported with the pointer of its member.
    """
    # Entries are (node, path); a key is pushed after its value so that it is checked first.
    stack: list[tuple[Any, tuple | None]] = [(value, None)]
    while stack:
        node, path = stack.pop()
        if isinstance(node, str):
            if _BAD_CHARACTER.search(node):
                raise InvalidString(
                    "A string holds a NUL character or an unpaired UTF-16 surrogate.",
                    pointer=_pointer(path),
                )
        elif isinstance(node, dict):
            for key, child in reversed(node.items()):
                member = (path, key)
                stack.append((child, member))
                stack.append((key, member))
        elif isinstance(node, list):
            for index in range(len(node) - 1, -1, -1):
                stack.append((node[index], (path, index)))


def json_text_load(*, text: str) -> Any:
    """Parse ``text`` as a JSON document the API accepts, or raise JsonInvalid/InvalidString.

    The cost is one decode and one regular-expression scan of the text; the strings are
    walked only when the scan finds an escape or character that may be refused.
    """
    try:
        value = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except ValueError as exc:
        raise JsonInvalid(f"JSON parse error - {exc}") from None
    except RecursionError:
        raise JsonInvalid("JSON parse error - the document is nested too deeply") from None
    if _SUSPECT_TEXT.search(text):
        json_strings_check(value=value)
    return value


def json_document_load(*, raw: bytes, encoding: str = "utf-8") -> Any:
    """Decode a request body and parse it with :func:`json_text_load`."""
    try:
        # surrogatepass: an encoded surrogate is then refused with its pointer, like an escape.
        text = raw.decode(encoding, errors="surrogatepass")
    except (UnicodeDecodeError, LookupError) as exc:
        raise JsonInvalid(f"JSON parse error - the body is not valid {encoding}: {exc}") from None
    return json_text_load(text=text)


def request_json_load(*, request: HttpRequest) -> Any:
    """Return the body of a JSON request as DRF's ``request.data`` gives it with FiniteJSONParser.

    Like DRF's Request, a body whose Content-Length is 0 or no number is not parsed: it is
    the empty object. The body is decoded with the request's charset, else DEFAULT_CHARSET.
    """
    meta = request.META
    try:
        length = int(meta.get("CONTENT_LENGTH", meta.get("HTTP_CONTENT_LENGTH", 0)))
    except (ValueError, TypeError):
        length = 0
    if length == 0:
        return {}
    encoding = request.encoding or settings.DEFAULT_CHARSET
    return json_document_load(raw=request.body, encoding=encoding)


def event_data_check(*, data: Mapping[str, Any]) -> None:
    """Refuse event data whose compact JSON encoding exceeds ``DSL_EVENT_DATA_MAX_BYTES``.

    The size is that of ``json.dumps(data, separators=(",", ":"), ensure_ascii=False)`` in
    UTF-8: what the award row stores.
    """
    limit = settings.DSL_EVENT_DATA_MAX_BYTES
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    # Every character is at least one byte: a text longer than the limit needs no encoding.
    size = len(text) if len(text) > limit else len(text.encode("utf-8", "surrogatepass"))
    if size > limit:
        raise PayloadTooLarge(
            f"The event data is {size} bytes of JSON; at most {limit} are accepted.",
            maxBytes=limit,
        )


class FiniteJSONParser(JSONParser):
    """DRF's JSON parser, reading documents with :func:`json_document_load`.

    Refused besides malformed JSON: numbers that overflow to infinity (``1e999``), NaN and
    Infinity tokens, documents too deep for the decoder, and strings holding NUL or an unpaired
    surrogate (400 ``INVALID_STRING`` with the pointer of the value or key).
    """

    def parse(
        self,
        stream: Any,
        media_type: str | None = None,  # noqa: ARG002 - DRF parser API
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        return json_document_load(raw=stream.read(), encoding=encoding)
