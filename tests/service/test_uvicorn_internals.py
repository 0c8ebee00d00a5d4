"""What service/transport.py and service/slowclients.py take from uvicorn's internal
httptools protocol: if an upgrade moves any of it, this fails first and says what moved.
pyproject.toml keeps uvicorn below its next minor version for the same reason."""

from __future__ import annotations

import inspect

import uvicorn
from uvicorn.protocols.http.flow_control import FlowControl
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

# Methods overridden or called, and attributes read, by our subclasses.
METHODS = (
    "connection_made",
    "connection_lost",
    "on_message_begin",
    "on_headers_complete",
    "on_message_complete",
)
PROTOCOL_ATTRIBUTES = ("cycle", "transport", "scope", "loop", "connections", "server_state", "config")
CYCLE_ATTRIBUTES = ("response_started", "response_complete", "disconnected", "message_event")


def test_uvicorn_is_the_minor_version_the_subclasses_were_written_for() -> None:
    assert uvicorn.__version__.startswith("0.55."), uvicorn.__version__


def test_the_protocol_still_has_what_the_subclasses_use() -> None:
    for name in METHODS:
        assert callable(getattr(HttpToolsProtocol, name, None)), f"HttpToolsProtocol.{name} moved"
    init = inspect.getsource(HttpToolsProtocol.__init__) + inspect.getsource(
        HttpToolsProtocol.connection_made
    )
    for name in PROTOCOL_ATTRIBUTES:
        assert f"self.{name} =" in init or f"self.{name}:" in init, f"HttpToolsProtocol.{name} moved"
    cycle = inspect.getsource(RequestResponseCycle.__init__)
    for name in CYCLE_ATTRIBUTES:
        assert f"self.{name} =" in cycle, f"RequestResponseCycle.{name} moved"
    assert "self.scope = {" in inspect.getsource(HttpToolsProtocol.on_message_begin)
    assert FlowControl is not None
