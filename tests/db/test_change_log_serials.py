"""change_log keeps no certificate serial (issue #20): a certificate's change names its
person, and migrating replaces the serials an earlier version recorded."""

from __future__ import annotations

from pathlib import Path

from tests.db.conftest import query
from tests.db.server import Server
from tests.processes import personal_values

SERIAL = "ABCDEF00000000FF"


def test_certificate_changes_name_the_person_not_the_serial(loaded: str, tmp_path: Path) -> None:
    server = Server(loaded, tmp_path / "state").start()
    try:
        row = {
            "certificate_serial": SERIAL,
            "person_id": "1",
            "issued_on": "2024-01-01",
            "expires_on": "2029-01-01",
        }
        status, answer = server.upsert({"certificates": [row]})
        assert status == 200, answer
    finally:
        server.stop()
    entries = query(loaded, "SELECT row_key, person_id FROM change_log WHERE table_name = 'certificates'")
    assert entries and all(e["row_key"] == "1" and e["person_id"] == 1 for e in entries)
    dump = str(query(loaded, "SELECT * FROM change_log"))
    assert SERIAL not in dump
    assert not {v for v in personal_values() if len(v) >= 12 and v in dump}
