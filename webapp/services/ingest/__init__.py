"""Batch ingest: many activities or customers in one request, with the single path's meaning."""

from webapp.services.ingest.activities import ingest_activities
from webapp.services.ingest.customers import ingest_customers

__all__ = ["ingest_activities", "ingest_customers"]
