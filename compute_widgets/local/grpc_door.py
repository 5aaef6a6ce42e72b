"""The gRPC door of the local control plane: Clarifai's `clarifai.api.V2` service, so the
official `clarifai` CLI and SDK (which speak only gRPC, clarifai-api.md §4.5) run against it
with nothing changed but ``CLARIFAI_API_BASE=http://127.0.0.1:PORT``.

A thin door over the same handlers as REST (`app.ROUTES`, run by `app.Dispatcher`, so writes
are serialised and simulating reads leave the loop exactly as over REST): the request message
becomes an `Rq`, the handler's body becomes the response message. No business rule is here.

- **Server.** grpcio's asyncio server on uvicorn's own event loop (started from the app's
  lifespan): one process, one store, one clock, one token, and no thread handing requests
  across. It listens on its own loopback port (gRPC needs HTTP/2; uvicorn speaks HTTP/1.1),
  written as ``grpc_url`` in the runtime file.
- **Which route.** An RPC is served by the routes whose ``rpc`` is its name (or its name +
  ``Of…``/``Unscoped``, e.g. ListNodepools / ListNodepoolsOfUser); the one whose path
  parameters the request fills best is used (`PATH_FIELDS` says which request field fills which
  parameter). Other fields go to the body (writes) or the query (reads), as the JSON gateway
  would send them: proto3 zeros are absent, so ``page=0`` means the default.
- **Failures** are normal responses whose ``status`` carries the Clarifai code (as
  api.clarifai.com does), never gRPC errors: a wrong token is CONN_KEY_INVALID, a missing id
  names the field. An RPC the plane does not serve answers gRPC UNIMPLEMENTED naming it. A
  message over `wire.MAX_BODY` bytes is refused by grpc itself (RESOURCE_EXHAUSTED, with the
  sizes), before any handler runs.
- **Responses** are built into the RPC's response message strictly, as `ParseDict` would
  (`proto_build`: the same result, 4-5x faster): a field the message does not have is a bug
  of ours, reported as INTERNAL_SERVER_ISSUE naming it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cache
from typing import Any

import grpc
from clarifai_grpc.grpc.api import service_pb2, service_pb2_grpc
from google.protobuf.json_format import MessageToDict, ParseDict, ParseError
from google.protobuf.message_factory import GetMessageClass
from starlette.concurrency import run_in_threadpool

from compute_widgets.local.app import ROUTES, Dispatcher, R, failure
from compute_widgets.local.guard import key_matches
from compute_widgets.local.proto_build import build
from compute_widgets.local.wire import MAX_BODY, C, Fail, Rq, new_req_id

log = logging.getLogger("compute_widgets.local")

SERVICE = service_pb2.DESCRIPTOR.services_by_name["V2"]

# path parameter of our routes -> the request fields that fill it (first non-empty wins)
PATH_FIELDS: dict[str, tuple[tuple[str, ...], ...]] = {
    "user_id": (("user_app_id", "user_id"),),
    "app_id": (("user_app_id", "app_id"),),
    "cc": (("compute_cluster_id",),),
    "np": (("nodepool_id",),),
    "dep": (("deployment_id",),),
    "provider": (("cloud_provider", "id"),),
    "region": (("region",),),
    "runner_id": (("runner_id",),),
    "log_type": (("log_type",),),
    "model_id": (("model_id",),),
    "version_id": (("version_id",), ("model_version_id",)),
    "version": (("model_version_id",), ("version_id",)),
    "cc_user": (("compute_cluster_user_id",),),
}
BIG_REQUEST = 64 * 1024  # bytes: a message this big is converted in the threadpool, off the loop


@cache  # per route path, once: every call looks them up
def _params(path: str) -> tuple[str, ...]:
    return tuple(p.split("}")[0] for p in path.split("{")[1:])


def routes_by_rpc() -> dict[str, list[R]]:
    """V2 method name -> our routes serving it, most specific first."""
    out: dict[str, list[R]] = {}
    for method in SERVICE.methods:
        name = method.name
        found = [
            r
            for r in ROUTES
            if r.rpc == name
            or (r.rpc.startswith(name) and r.rpc[len(name) :].startswith(("Of", "Unscoped")))
        ]
        if found:
            out[name] = sorted(found, key=lambda r: -len(_params(r.path)))
    return out


def _field(data: dict[str, Any], path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)  # type: ignore[assignment]
    return data


def _fill(route: R, data: dict[str, Any]) -> tuple[dict[str, str], set[str]] | None:
    """The route's path parameters from the request (user_id defaults to "me"), and the
    top-level fields used; None when a parameter has no value."""
    params: dict[str, str] = {}
    used: set[str] = set()
    for name in _params(route.path):
        value = None
        for path in PATH_FIELDS.get(name, ((name,),)):
            value = _field(data, path)
            if value:
                used.add(path[0])
                break
        if not value:
            if name != "user_id":
                return None
            value = "me"
        params[name] = str(value)
    return params, used


def _missing(routes: list[R]) -> str:
    wanted = []
    for name in _params(routes[-1].path):  # the least specific route: what is required at least
        if name != "user_id":
            wanted.append(".".join(PATH_FIELDS.get(name, ((name,),))[0]))
    return " and ".join(wanted)


def to_rq(rpc: str, routes: list[R], request: Any, owner: str) -> tuple[R, Rq]:
    """The route and the `Rq` for a request message; `Fail` naming the missing ids."""
    data = MessageToDict(request, preserving_proto_field_name=True, use_integers_for_enums=True)
    for route in routes:
        filled = _fill(route, data)
        if filled is None:
            continue
        params, used = filled
        rest = {k: v for k, v in data.items() if k not in used and k != "user_app_id"}
        user = params.get("user_id", "me")
        rq = Rq(path=params, query={}, body={}, user=owner if user == "me" else user)
        if route.method == "GET":
            rq.query = {k: _query_values(v) for k, v in rest.items()}
        else:
            rq.body = rest
        return route, rq
    raise Fail(C.BAD_REQUEST, f"{rpc}: the request must give {_missing(routes)}.")


def _query_values(value: Any) -> list[str]:
    values = value if isinstance(value, list) else [value]
    return [("true" if v else "false") if isinstance(v, bool) else str(v) for v in values]


@dataclass
class _Call:
    rpc: str
    routes: list[R]
    response: type


class GrpcDoor:
    """The V2 service on ``host:port`` over `dispatcher` (whose plane holds the state)."""

    def __init__(self, dispatcher: Dispatcher, token: str) -> None:
        self.dispatcher = dispatcher
        self._expected = f"key {token}".encode()
        self._served = {
            name: _Call(
                name,
                routes,
                GetMessageClass(SERVICE.methods_by_name[name].output_type),
            )
            for name, routes in routes_by_rpc().items()
        }
        self._server: grpc.aio.Server | None = None

    @property
    def served(self) -> list[str]:
        return sorted(self._served)

    async def start(self, host: str, port: int = 0) -> int:
        """Listen (on the running loop); returns the port."""
        server = grpc.aio.server(
            options=[
                ("grpc.max_receive_message_length", MAX_BODY),
                ("grpc.so_reuseport", 0),  # a port of ours alone, as uvicorn's
            ]
        )
        service_pb2_grpc.add_V2Servicer_to_server(self._servicer(), server)
        bound = server.add_insecure_port(f"{host}:{port}")
        if not bound:
            raise OSError(f"cannot listen for gRPC on {host}:{port}")
        await server.start()
        self._server = server
        return bound

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop(grace=1.0)
            self._server = None

    # -- the servicer ----------------------------------------------------------------------------

    def _servicer(self) -> Any:
        methods: dict[str, Any] = {}
        for method in SERVICE.methods:
            call = self._served.get(method.name)
            methods[method.name] = (
                self._unary(call) if call is not None else _unimplemented(method.name)
            )
        return type("LocalV2Servicer", (service_pb2_grpc.V2Servicer,), methods)()

    def _unary(self, call: _Call) -> Any:
        door = self

        async def rpc(_self: Any, request: Any, context: grpc.aio.ServicerContext) -> Any:
            return await door.handle(call, request, context)

        rpc.__name__ = call.rpc
        return rpc

    def _authorized(self, context: grpc.aio.ServicerContext) -> bool:
        for key, value in context.invocation_metadata() or ():
            if key == "authorization":
                given = value.encode() if isinstance(value, str) else bytes(value)
                return key_matches(given, self._expected)
        return False

    async def handle(self, call: _Call, request: Any, context: grpc.aio.ServicerContext) -> Any:
        req_id = new_req_id()
        plane = self.dispatcher.plane
        if not self._authorized(context):
            fail = Fail(
                C.CONN_KEY_INVALID,
                "Missing or invalid API key: send the metadata 'authorization: Key <token>' "
                "(the local server's token is in its runtime file; `compute-widgets env` prints "
                "the CLARIFAI_PAT to use).",
            )
            return self._message(call, *failure(fail, req_id))
        try:
            if request.ByteSize() > BIG_REQUEST:
                route, rq = await run_in_threadpool(
                    to_rq, call.rpc, call.routes, request, plane.owner
                )
            else:
                route, rq = to_rq(call.rpc, call.routes, request, plane.owner)
        except Fail as f:
            return self._message(call, *failure(f, req_id))

        def finish(http: int, body: dict[str, Any]) -> Any:
            return self._message(call, http, body)

        return await self.dispatcher.run(route, rq, b"", req_id, f"gRPC {call.rpc}", finish)

    def _message(self, call: _Call, http: int, body: dict[str, Any]) -> Any:
        try:
            return build(body, call.response)
        except ParseError as e:  # a field the message lacks: our bug, said as such
            log.error(
                "gRPC %s: the response does not fit %s: %s", call.rpc, call.response.__name__, e
            )
            status = dict(body.get("status") or {})
            status.update(
                code=int(C.INTERNAL_SERVER_ISSUE),
                description=f"Internal error in the local control plane: its {call.rpc} "
                f"response does not fit {call.response.__name__} ({e}).",
            )
            return ParseDict({"status": status}, call.response(), ignore_unknown_fields=True)


def _unimplemented(name: str) -> Any:
    async def rpc(_self: Any, request: Any, context: grpc.aio.ServicerContext) -> Any:
        await context.abort(
            grpc.StatusCode.UNIMPLEMENTED,
            f"{name} is not served by the compute_widgets local control plane, which emulates "
            "Clarifai's compute API (compute clusters, nodepools, deployments, runners, cloud "
            "providers and instance types, logs, metrics, users, models). Use "
            f"https://api.clarifai.com for {name}.",
        )

    rpc.__name__ = name
    return rpc
