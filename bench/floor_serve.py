"""The floor app (bench/floor_app.py) on Onshi's own uvicorn protocol, one write per answer.

`onshi serve` runs uvicorn with service/transport.py's protocol, which plain `uvicorn`
on the command line cannot select; bench/floor.py runs the floor both ways so that
Onshi is compared with the floor on the same server as well as with plain uvicorn.

    FLOOR_BODIES=FILE python bench/floor_serve.py PORT
"""

from __future__ import annotations

import sys
from pathlib import Path

import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from service.transport import CoalescingHttpToolsProtocol  # noqa: E402

if __name__ == "__main__":
    uvicorn.run(
        "floor_app:app",
        port=int(sys.argv[1]),
        loop="uvloop",
        http=CoalescingHttpToolsProtocol,
        access_log=False,
        log_level="warning",
    )
