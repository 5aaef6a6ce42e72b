"""api/errors.py: the status-code table, HTTP mapping, one-line messages, no token leaks."""

from __future__ import annotations

import pickle

import pytest

from compute_widgets.api.errors import (
    RETRYABLE_CODES,
    ApiError,
    ComputeError,
    ConnectionFailed,
    InvalidInput,
    NotConfigured,
    Problem,
    StatusCode,
    http_status_for,
    redact,
    status_code_name,
)

# clarifai-api.md §2.9, code -> (name, HTTP status we answer with)
TABLE = {
    10000: ("SUCCESS", 200),
    10010: ("MIXED_STATUS", 207),
    10020: ("FAILURE", 500),
    10030: ("TRY_AGAIN", 503),
    10040: ("NOT_IMPLEMENTED", 501),
    10050: ("MOVED", 307),
    10070: ("ACCEPTED", 202),
    11001: ("CONN_TOKEN_INVALID", 401),
    11002: ("CONN_CREDENTIALS_INVALID", 401),
    11003: ("CONN_EXCEED_HOURLY_LIMIT", 429),
    11005: ("CONN_THROTTLED", 429),
    11007: ("CONN_INSUFFICIENT_SCOPES", 403),
    11008: ("CONN_KEY_INVALID", 401),
    11009: ("CONN_KEY_NOT_FOUND", 401),
    11100: ("CONN_BAD_REQUEST_FORMAT", 400),
    11101: ("CONN_DOES_NOT_EXIST", 404),
    11102: ("CONN_INVALID_REQUEST", 400),
    11103: ("CONN_METHOD_NOT_ALLOWED", 405),
    21100: ("MODEL_TRAINED", 500),  # a model version's state, never an answer's status
    21200: ("MODEL_DOES_NOT_EXIST", 404),
    25600: ("RUNNER_DOES_NOT_EXIST", 404),
    25601: ("RUNNER_PERMISSION_DENIED", 403),
    25602: ("RUNNER_INVALID_ARGUMENT", 400),
    25603: ("RUNNER_INVALID_REQUEST", 400),
    25700: ("NODEPOOL_DOES_NOT_EXIST", 404),
    25701: ("NODEPOOL_INVALID_ARGUMENT", 400),
    25702: ("NODEPOOL_INVALID_REQUEST", 400),
    25800: ("COMPUTE_CLUSTER_DOES_NOT_EXIST", 404),
    25801: ("COMPUTE_CLUSTER_INVALID_ARGUMENT", 400),
    25802: ("COMPUTE_CLUSTER_INVALID_REQUEST", 400),
    25900: ("DEPLOYMENT_DOES_NOT_EXIST", 404),
    25901: ("DEPLOYMENT_INVALID_ARGUMENT", 400),
    25902: ("DEPLOYMENT_INVALID_REQUEST", 400),
    25903: ("DEPLOYMENT_DISABLED", 409),
    26000: ("INSTANCE_TYPE_DOES_NOT_EXIST", 404),
    26001: ("INSTANCE_TYPE_INVALID_ARGUMENT", 400),
    26002: ("INSTANCE_TYPE_INVALID_REQUEST", 400),
    26100: ("COMPUTE_PLANE_METRICS_INVALID_REQUEST", 400),
    40010: ("DATABASE_DUPLICATE_KEY", 409),
    40017: ("DATABASE_CONSTRAINT_VIOLATED", 409),
    90400: ("BAD_REQUEST", 400),
    90500: ("SERVER_ERROR", 500),
    98004: ("INTERNAL_SERVER_ISSUE", 500),
    99009: ("INTERNAL_UNCATEGORIZED", 500),
}


@pytest.mark.parametrize("code", sorted(TABLE))
def test_status_code_name_and_http_status(code):
    name, http = TABLE[code]
    assert status_code_name(code) == name
    assert StatusCode[name] == code
    assert http_status_for(code) == http
    err = ApiError(code, "d")
    assert (err.code, err.code_name, err.http_status) == (code, name, http)


def test_table_covers_the_enum():
    assert {int(c) for c in StatusCode} == set(TABLE)


def test_enum_matches_clarifai_grpc():
    status_code_pb2 = pytest.importorskip("clarifai_grpc.grpc.api.status.status_code_pb2")
    for code in StatusCode:
        assert status_code_pb2.StatusCode.Value(code.name) == code.value


def test_unknown_code():
    assert status_code_name(12345) == "STATUS_12345"
    assert http_status_for(12345) == 500
    assert str(ApiError(12345, "odd")) == "STATUS_12345 (12345): odd."


def test_one_line_message():
    err = ApiError(25700, "Nodepool 'x' not found in cluster 'y'", req_id="abc")
    assert str(err) == "NODEPOOL_DOES_NOT_EXIST (25700): Nodepool 'x' not found in cluster 'y'. [req_id abc]"
    multi = ApiError(25701, "Invalid nodepool.\n", details="min_instances\nabove max", req_id="r")
    assert "\n" not in str(multi)
    assert str(multi) == ("NODEPOOL_INVALID_ARGUMENT (25701): Invalid nodepool: min_instances above max."
                          " [req_id r]")
    assert str(ApiError(10020)) == "FAILURE (10020)"
    # details equal to the description are not repeated
    assert str(ApiError(90400, "Bad request", "Bad request")) == "BAD_REQUEST (90400): Bad request."


def test_from_status_accepts_names_and_camel_case():
    err = ApiError.from_status({"code": "NODEPOOL_DOES_NOT_EXIST", "description": "gone", "reqId": "q"}, 404)
    assert (err.code, err.req_id, err.http_status) == (25700, "q", 404)
    assert ApiError.from_status({"code": "25800"}).code_name == "COMPUTE_CLUSTER_DOES_NOT_EXIST"


def test_retryable():
    assert {int(c) for c in RETRYABLE_CODES} == {11003, 11005}
    assert ApiError(11005).retryable and ApiError(11003).retryable
    assert ApiError(10020, http_status=503).retryable
    assert not ApiError(25701).retryable
    assert not ApiError(11008).retryable


def test_api_error_never_contains_a_token():
    pat = "0123456789abcdef0123456789abcdef"
    err = ApiError(11008, f"Invalid key {pat}", details=f"Authorization: Key {pat}", secrets=[pat])
    assert pat not in str(err) and pat not in repr(err)
    assert pat not in err.description + err.details
    # even when the caller does not name it, auth-shaped text is scrubbed
    err = ApiError(11008, "header was 'Key sk_live_abcdef123456'")
    assert "sk_live_abcdef123456" not in str(err)


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("Authorization: Key abc123def456", "abc123def456"),
        ("authorization=Bearer tok_998877665544", "tok_998877665544"),
        ('{"pat": "p4t-secret-value"}', "p4t-secret-value"),
        ("token=xyz12345", "xyz12345"),
    ],
)
def test_redact(text, secret):
    assert secret not in redact(text)
    assert "****" in redact(text)


def test_redact_keeps_ordinary_text():
    assert redact("Nodepool 'np-1' not found") == "Nodepool 'np-1' not found"


def test_invalid_input_collects_problems():
    probs = [Problem("min_instances", "min_instances (3) is above max_instances (1): lower it"),
             Problem("id", "id is empty: choose one")]
    err = InvalidInput(probs)
    assert err.field == "min_instances"
    assert err.problems == probs
    assert str(err) == "min_instances (3) is above max_instances (1): lower it; id is empty: choose one"
    assert isinstance(err, ValueError) and isinstance(err, ComputeError)
    single = InvalidInput("region is empty: choose one", field="region")
    assert single.problems == [Problem("region", "region is empty: choose one")]
    again = pickle.loads(pickle.dumps(err))
    assert again.problems == probs


def test_tree():
    for cls in (InvalidInput, ApiError, ConnectionFailed, NotConfigured):
        assert issubclass(cls, ComputeError)
    err = ConnectionFailed("could not reach http://127.0.0.1:1 after 4 attempts (Key abcdef123456)",
                           url="http://127.0.0.1:1", attempts=4)
    assert "abcdef123456" not in str(err) and err.attempts == 4
    api = pickle.loads(pickle.dumps(ApiError(25700, "gone", req_id="r")))
    assert str(api) == "NODEPOOL_DOES_NOT_EXIST (25700): gone. [req_id r]"


# --- the exception tree, documented once ---------------------------------------------------------


def _documented_tree() -> dict[str, str]:
    """{class: parent} read from the tree drawn in api/errors.py's docstring."""
    import re

    from compute_widgets.api import errors

    doc = errors.__doc__ or ""
    lines = doc.split("::", 1)[1].splitlines()
    tree: dict[str, str] = {}
    stack: list[tuple[int, str]] = []  # (column of the name, name)
    for line in lines:
        found = re.match(r"^([\s│├└─]*)([A-Z]\w+)", line)
        if not found:
            if tree and line.strip() and not line.startswith(" " * 8):
                break  # prose after the tree
            continue
        col, name = len(found.group(1)), found.group(2)
        while stack and stack[-1][0] >= col:
            stack.pop()
        tree[name] = stack[-1][1] if stack else ""
        stack.append((col, name))
    return tree


def _defined_tree() -> dict[str, str]:
    """{class: parent} of every ComputeError subclass defined in the package (read by AST)."""
    import ast
    from pathlib import Path

    import compute_widgets

    bases: dict[str, list[str]] = {}
    for path in Path(compute_widgets.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                names = [b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases]
                bases.setdefault(node.name, []).extend(names)
    tree = {"ComputeError": ""}
    grew = True
    while grew:
        grew = False
        for name, parents in bases.items():
            ours = [p for p in parents if p in tree]
            if name not in tree and ours:
                tree[name] = ours[0]
                grew = True
    return tree


def test_the_docstring_tree_lists_exactly_the_exceptions_defined():
    documented = _documented_tree()
    assert "ConfigError" in documented and "ServerError" in documented
    assert documented == _defined_tree()


def test_the_tree_is_the_real_hierarchy():
    from compute_widgets.api import config, errors
    from compute_widgets.local import runtime

    classes = {c.__name__: c for m in (errors, config, runtime) for c in vars(m).values()
               if isinstance(c, type) and issubclass(c, ComputeError)}  # fmt: skip
    for name, parent in _documented_tree().items():
        if parent:
            assert classes[parent] in classes[name].__bases__, name


def test_the_client_docstring_points_to_the_tree():
    from compute_widgets.api import client

    assert "api/errors.py" in client.__doc__ and "├──" not in client.__doc__
