"""Customer import jobs: run one import, and re-enqueue imports whose job was lost."""

from __future__ import annotations

from webapp.services import imports


def run_import_job(import_id: int) -> dict | None:
    """Run or resume one import (idempotent: finished chunks are skipped)."""
    return imports.run_import(import_id)


def mark_import_failed(job, connection, exc_type, exc_value, traceback) -> None:
    """RQ on_failure callback: the reason goes on the import row for the marketer to read."""
    import_id = job.args[0]
    imports.fail_import(import_id, f"the import stopped: {exc_type.__name__}: {exc_value}")


def resume_lost_imports() -> int:
    """Periodic: enqueue again every import the database says should be running."""
    ids = imports.imports_to_resume()
    for import_id in ids:
        imports.enqueue_import(import_id)
    return len(ids)

