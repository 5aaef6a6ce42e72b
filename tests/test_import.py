"""`import compute_widgets` stays cheap: the heavy libraries load only when used."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("pandas", "plotly", "ipywidgets", "fastapi", "numba")


def _loaded_after(statement: str) -> list[str]:
    code = (
        f"import sys, json\n{statement}\n"
        f"print(json.dumps([m for m in {list(HEAVY)!r} if m in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_import_compute_widgets_loads_no_heavy_library():
    assert _loaded_after("import compute_widgets") == []


def test_the_client_loads_pandas_only_for_tables():
    # building a client (and settings) needs httpx and pydantic, not pandas
    assert (
        _loaded_after(
            "import compute_widgets as cw\n"
            "from compute_widgets.api.client import ComputeClient\n"
            "from compute_widgets.settings import Settings\n"
            "ComputeClient('http://127.0.0.1:9', 't').close()"
        )
        == []
    )
