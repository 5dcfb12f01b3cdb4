"""Helpers of the import and export tests."""

from __future__ import annotations

import csv
import io

from webapp.extensions import db


def csv_bytes(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def read_csv(response) -> list[list[str]]:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "text/csv"
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


def run_burst_worker(runner) -> None:
    """Drain every queue with `flask crm worker --burst --no-scheduler`, as an operator would."""
    db.session.commit()  # our transaction must not hold SQLite's write lock while jobs run
    result = runner.invoke(args=["crm", "worker", "--burst", "--no-scheduler"])
    assert result.exit_code == 0, result.output
    db.session.expire_all()


def assert_json_error(response, status: int, field: str | None = None) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    error = response.get_json()["error"]
    if field is not None:
        assert field in [d["field"] for d in error["details"]], error
    return error
