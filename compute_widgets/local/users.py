"""GetUser (``GET /v2/users/{user_id}``): who the token belongs to, so ``clarifai login``,
``clarifai config create-context`` and ``whoami`` work against the local plane (they read
``user.id`` only: clarifai/cli/base.py ``_verify_and_resolve_user``, clarifai/utils/cli.py
``validate_context``). One token, no accounts: every user id is served, ``me`` is the plane's
owner; a wrong token is refused before this (the Guard). No e-mail or name is invented."""

from __future__ import annotations

from typing import Any

from compute_widgets.local import store as st
from compute_widgets.local.crud import Plane
from compute_widgets.local.wire import Rq


def get_user(plane: Plane, rq: Rq) -> dict[str, Any]:
    return {
        "user": {
            "id": rq.user,
            "created_at": st.rfc3339(plane.store.created_at),
            "visibility": {"gettable": 10},  # PRIVATE
        }
    }
