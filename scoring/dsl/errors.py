"""Every error the DSL raises, each with a stable ``DSL_*`` code (spec section 9, Q4)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

# Codes the reference engine (GAME) already had; their corpus ``reason`` keeps the prefix.
GAME_CODES = frozenset(
    {
        "DSL_FIELD_PATH_NOT_ALLOWED",
        "DSL_PARENT_FIELD_OUTSIDE_POST",
        "DSL_ARITH_OP_NOT_ALLOWED",
        "DSL_FUNC_NAME_NOT_ALLOWED",
        "DSL_FUNC_ARITY_MISMATCH",
        "DSL_COMPARE_OP_NOT_ALLOWED",
        "DSL_NO_AST_TO_SIMULATE",
        "DSL_ASSIGN_POINTS_NOT_NUMBER",
        "DSL_SET_POINTS_NOT_NUMBER",
        "DSL_SET_CASE_NAME_NOT_STRING",
        "DSL_COMPARE_TYPE_MISMATCH",
        "DSL_ARITH_TYPE_MISMATCH",
        "DSL_ARITH_DIV_BY_ZERO",
        "DSL_FIELD_NOT_PRECOMPUTED",
        "DSL_UNKNOWN_STATEMENT",
        "DSL_TIMEOUT",
    }
)

# Validation codes (section 9.1 slugs, upper-cased, DSL_ prefix) ------------------------------
ROOT_NOT_OBJECT = "DSL_ROOT_NOT_OBJECT"
AST_NOT_JSON = "DSL_AST_NOT_JSON"
WRONG_NODE_TYPE = "DSL_WRONG_NODE_TYPE"
MISSING_KEY = "DSL_MISSING_KEY"
UNEXPECTED_KEYS = "DSL_UNEXPECTED_KEYS"
RULES_NOT_ARRAY = "DSL_RULES_NOT_ARRAY"
SECTION_NOT_ARRAY = "DSL_SECTION_NOT_ARRAY"
PARENT_VARIABLES_NOT_OBJECT = "DSL_PARENT_VARIABLES_NOT_OBJECT"
PARENT_VARIABLES_BAD_KEY = "DSL_PARENT_VARIABLES_BAD_KEY"
PARENT_VARIABLES_BAD_VALUE = "DSL_PARENT_VARIABLES_BAD_VALUE"
PARENT_VARIABLES_UNKNOWN_KEY = "DSL_PARENT_VARIABLES_UNKNOWN_KEY"
PARENT_VARIABLES_BAD_TYPE = "DSL_PARENT_VARIABLES_BAD_TYPE"
RULE_NOT_OBJECT = "DSL_RULE_NOT_OBJECT"
EMPTY_STATEMENT_LIST = "DSL_EMPTY_STATEMENT_LIST"
ELSE_IF_NOT_ARRAY = "DSL_ELSE_IF_NOT_ARRAY"
ELSE_IF_ITEM_NOT_OBJECT = "DSL_ELSE_IF_ITEM_NOT_OBJECT"
ELSE_IF_UNEXPECTED_KEYS = "DSL_ELSE_IF_UNEXPECTED_KEYS"
ELSE_IF_MISSING_WHEN = "DSL_ELSE_IF_MISSING_WHEN"
CONDITION_NOT_OBJECT = "DSL_CONDITION_NOT_OBJECT"
UNKNOWN_CONDITION_TYPE = "DSL_UNKNOWN_CONDITION_TYPE"
EXPRESSION_NOT_OBJECT = "DSL_EXPRESSION_NOT_OBJECT"
UNKNOWN_EXPRESSION_TYPE = "DSL_UNKNOWN_EXPRESSION_TYPE"
LOGIC_ARGS_EMPTY = "DSL_LOGIC_ARGS_EMPTY"
LITERAL_NOT_SCALAR = "DSL_LITERAL_NOT_SCALAR"
LITERAL_NOT_FINITE = "DSL_LITERAL_NOT_FINITE"
LITERAL_OUT_OF_RANGE = "DSL_LITERAL_OUT_OF_RANGE"
FIELD_PATH_NOT_STRING = "DSL_FIELD_PATH_NOT_STRING"
FIELD_PATH_NOT_ALLOWED = "DSL_FIELD_PATH_NOT_ALLOWED"
PARENT_FIELD_OUTSIDE_POST = "DSL_PARENT_FIELD_OUTSIDE_POST"
COMPARE_OP_NOT_ALLOWED = "DSL_COMPARE_OP_NOT_ALLOWED"
ARITH_OP_NOT_ALLOWED = "DSL_ARITH_OP_NOT_ALLOWED"
FUNC_NAME_NOT_ALLOWED = "DSL_FUNC_NAME_NOT_ALLOWED"
FUNC_ARITY_MISMATCH = "DSL_FUNC_ARITY_MISMATCH"
STATEMENT_NOT_OBJECT = "DSL_STATEMENT_NOT_OBJECT"
UNKNOWN_STATEMENT_TYPE = "DSL_UNKNOWN_STATEMENT_TYPE"
NOT_A_STATEMENT = "DSL_NOT_A_STATEMENT"
STATEMENT_WRONG_SECTION = "DSL_STATEMENT_WRONG_SECTION"
CASE_NAME_INVALID = "DSL_CASE_NAME_INVALID"
CALLBACK_KEY_INVALID = "DSL_CALLBACK_KEY_INVALID"
SET_DATA_KEY_INVALID = "DSL_SET_DATA_KEY_INVALID"
SET_DATA_KEY_PATTERN = "DSL_SET_DATA_KEY_PATTERN"
NODE_COUNT_EXCEEDED = "DSL_NODE_COUNT_EXCEEDED"
DEPTH_EXCEEDED = "DSL_DEPTH_EXCEEDED"
DUPLICATE_ID = "DSL_DUPLICATE_ID"

# Run-time codes (section 9.2 plus the strict profile's additions) ---------------------------
ASSIGN_POINTS_NOT_NUMBER = "DSL_ASSIGN_POINTS_NOT_NUMBER"
SET_POINTS_NOT_NUMBER = "DSL_SET_POINTS_NOT_NUMBER"
SET_CASE_NAME_NOT_STRING = "DSL_SET_CASE_NAME_NOT_STRING"
SET_CASE_NAME_INVALID = "DSL_SET_CASE_NAME_INVALID"
POINTS_NOT_FINITE = "DSL_POINTS_NOT_FINITE"
POINTS_OUT_OF_RANGE = "DSL_POINTS_OUT_OF_RANGE"
COMPARE_TYPE_MISMATCH = "DSL_COMPARE_TYPE_MISMATCH"
ARITH_TYPE_MISMATCH = "DSL_ARITH_TYPE_MISMATCH"
ARITH_DIV_BY_ZERO = "DSL_ARITH_DIV_BY_ZERO"
ARITH_OVERFLOW = "DSL_ARITH_OVERFLOW"
VALUE_TOO_LARGE = "DSL_VALUE_TOO_LARGE"
FUNC_CALL_FAILED = "DSL_FUNC_CALL_FAILED"
FIELD_NOT_PRECOMPUTED = "DSL_FIELD_NOT_PRECOMPUTED"
UNKNOWN_STATEMENT = "DSL_UNKNOWN_STATEMENT"
PARENT_REQUIRED = "DSL_PARENT_REQUIRED"
UNKNOWN_MODE = "DSL_UNKNOWN_MODE"
NO_ANALYTICS_LOADER = "DSL_NO_ANALYTICS_LOADER"
PARENT_FAILED = "DSL_PARENT_FAILED"
PARENT_POINTS_NOT_NUMBER = "DSL_PARENT_POINTS_NOT_NUMBER"
PARENT_CASE_NAME_NOT_STRING = "DSL_PARENT_CASE_NAME_NOT_STRING"
RUNTIME_NODE_COUNT_EXCEEDED = "DSL_RUNTIME_NODE_COUNT_EXCEEDED"
RUNTIME_DEPTH_EXCEEDED = "DSL_RUNTIME_DEPTH_EXCEEDED"
TIMEOUT = "DSL_TIMEOUT"


def reason_for_code(code: str) -> str:
    """Return the corpus ``reason`` of a code: GAME codes lower-cased, others also unprefixed."""
    lowered = code.lower()
    return lowered if code in GAME_CODES else lowered.removeprefix("dsl_")


@dataclass(frozen=True, slots=True)
class Issue:
    """One validation problem, located by node id and RFC 6901 pointer."""

    code: str
    message: str
    pointer: str
    node_id: str | None = None
    params: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "pointer": self.pointer,
            "nodeId": self.node_id,
            "params": self.params,
        }


#: How a failed run ended; ``DslResult.status`` adds "ok".
RunStatus = Literal["error", "timeout", "limit"]


class DslError(Exception):
    """Base of every failure inside a strategy."""

    status: ClassVar[RunStatus] = "error"

    def __init__(
        self,
        code: str,
        message: str,
        *,
        node_id: str | None = None,
        pointer: str | None = None,
        params: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.node_id = node_id
        self.pointer = pointer
        self.params = params if params is not None else {}

    @property
    def reason(self) -> str:
        return reason_for_code(self.code)

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "nodeId": self.node_id,
            "pointer": self.pointer,
            "params": self.params,
            "status": self.status,
        }

    #: The HTTP status of a refused request: a valid program that failed is unprocessable.
    http_status: ClassVar[int] = 422

    def as_body(self) -> dict[str, Any]:
        """The error as an API answers it: the edge's ``{code, detail, ...}`` shape."""
        return {
            "code": self.code,
            "detail": self.message,
            "nodeId": self.node_id,
            "pointer": self.pointer,
        }

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r}, node_id={self.node_id!r})"


class DslValidationError(DslError):
    """The AST was rejected; ``issues`` lists every problem in check order."""

    def __init__(self, issues: list[Issue]) -> None:
        first = issues[0]
        more = f" (and {len(issues) - 1} more)" if len(issues) > 1 else ""
        super().__init__(
            first.code,
            first.message + more,
            node_id=first.node_id,
            pointer=first.pointer,
            params=first.params,
        )
        self.issues = issues

    #: A program that does not validate is bad input.
    http_status: ClassVar[int] = 400

    def as_body(self) -> dict[str, Any]:
        return {**super().as_body(), "errors": [issue.as_dict() for issue in self.issues]}


class DslExecutionError(DslError):
    """The strategy failed while running (a type error, a bad points value...)."""


class DslLimitError(DslError):
    """A run-time node or depth cap was exceeded."""

    status = "limit"


class DslTimeoutError(DslError):
    """The event's wall-clock budget ran out."""

    status = "timeout"
