"""Customer CSV imports: upload, column mapping, preview, and the bulk upsert the job runs.

Rows are checked with the customers API's own rules (`clean_customer_data`) and written
in chunks with set-based statements: one lookup of the chunk's emails and external ids,
one multi-row INSERT ... ON CONFLICT DO NOTHING for new customers, one executemany UPDATE
for known ones, one INSERT of tags. A bad row is recorded with its reason and never stops
the rest. Within one file the first row for an email (or external id) wins; later rows
with the same one are rejected as duplicates, naming the line that was imported.

The package reads top to bottom: `files` (encoding, dialect, header), `mapping` (columns
to fields, one row as upsert input), `previews`, `lifecycle` (create, start, queue by job
name, fail, resume, rejected rows), `runner` (claim, chunks, progress) and `writers` (the
set-based statements). Callers import from here.
"""

from webapp.services.imports.files import MAX_COLUMNS, PREVIEW_BYTES, encoding_of, head, read_rows
from webapp.services.imports.lifecycle import (
    IMPORT_JOB_TIMEOUT,
    MAX_FILE_BYTES,
    MAX_ROWS,
    create_import,
    enqueue_import,
    fail_import,
    get_import,
    imports_page,
    imports_to_resume,
    rejected_rows,
    start_import,
)
from webapp.services.imports.mapping import (
    FIELD_TARGETS,
    TARGET_LABELS,
    attribute_key,
    check_mapping,
    guess_mapping,
    guess_target,
    row_data,
)
from webapp.services.imports.previews import PREVIEW_ROWS, PreviewRow, preview
from webapp.services.imports.runner import LostClaim, run_import

__all__ = [
    "FIELD_TARGETS", "IMPORT_JOB_TIMEOUT", "MAX_COLUMNS", "MAX_FILE_BYTES", "MAX_ROWS", "PREVIEW_BYTES",
    "PREVIEW_ROWS", "TARGET_LABELS", "LostClaim", "PreviewRow", "attribute_key", "check_mapping", "create_import",
    "encoding_of", "enqueue_import", "fail_import", "get_import", "guess_mapping", "guess_target", "head",
    "imports_page", "imports_to_resume", "preview", "read_rows", "rejected_rows", "row_data", "run_import",
    "start_import",
]
