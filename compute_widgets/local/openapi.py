"""The OpenAPI 3 document, generated from the route table."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from compute_widgets.local.wire import (
    MAX_PER_PAGE,
)


def openapi(routes: Iterable[Any], title: str, version: str) -> dict[str, Any]:
    """The OpenAPI 3 document of `routes` (the app's `ROUTES`): loose bodies (any object with the documented list
    fields), path ids as strings, paging parameters with their bounds."""
    status = {
        "type": "object",
        "properties": {
            "code": {"type": "integer"},
            "description": {"type": "string"},
            "details": {"type": "string"},
            "req_id": {"type": "string"},
        },
    }
    reply = {
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {"status": status},
                    "required": ["status"],
                }
            }
        }
    }
    body_types = {
        "ids": {"type": "array", "items": {"type": "string"}},
        "action": {"type": "string", "enum": ["overwrite", "merge", "remove"]},
        "seconds": {"type": "number", "minimum": 0},
        "status": {"oneOf": [{"type": "integer"}, {"type": "string"}]},
        "status_description": {"type": "string"},
        "query": {"type": "object"},
    }
    query_types = {
        "page": {"type": "integer", "minimum": 1},
        "per_page": {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE},
        "model_version_ids": {"type": "array", "items": {"type": "string"}},
        "metric_types": {"type": "array", "items": {"type": "string"}},
    }
    paths: dict[str, Any] = {}
    for r in routes:
        params = [
            {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
            for p in re.findall(r"{(\w+)}", r.path)
        ]
        params += [
            {
                "name": q,
                "in": "query",
                "required": False,
                "schema": query_types.get(q, {"type": "string"}),
            }
            for q in r.query
        ]
        op: dict[str, Any] = {
            "operationId": r.rpc,
            "summary": r.rpc,
            "parameters": params,
            "responses": {
                "200": {"description": "SUCCESS", **reply},
                "default": {"description": "a Clarifai status", **reply},
            },
        }
        if r.body:
            props = {
                b: body_types.get(b, {"type": "array", "items": {"type": "object"}}) for b in r.body
            }
            op["requestBody"] = {
                "required": True,
                "content": {
                    "application/json": {"schema": {"type": "object", "properties": props}}
                },
            }
        paths.setdefault(r.path, {})[r.method.lower()] = op
    return {
        "openapi": "3.0.3",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "securitySchemes": {
                "key": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "Key <token>",
                }
            }
        },
        "security": [{"key": []}],
    }
