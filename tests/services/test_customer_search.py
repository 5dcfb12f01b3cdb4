"""The customers list's search: a fragment found anywhere in the email or the "first last"
name, whatever its case, with LIKE's wildcards and the escape character taken literally, one
tenant's customers only; and on PostgreSQL it reads the trigram indexes of migration 0024."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event, insert

from webapp.extensions import db
from webapp.models import Customer
from webapp.services import customers

PEOPLE = [
    ("emile.zola@novel.example.com", "Émile", "Zola"),
    ("zoe@festival.example.com", "Zoë", "Bright"),
    ("percent%fan@festival.example.com", "100% Fan", None),
    ("under_score@club.example.com", None, "Underscore"),
    ("underxscore@club.example.com", "Decoy", "X"),
    ("back@slash.example.com", "Back\\Slash", "Person"),
    ("plain@example.com", None, None),
    ("ANNA.Lee@Example.COM", "anna", "LEE"),
]


@pytest.fixture
def people(tenant_a, tenant_b) -> dict[str, int]:
    ids = {}
    for email, first, last in PEOPLE:
        customer, _ = customers.upsert_customer(tenant_a.id, {"email": email, "first_name": first, "last_name": last})
        ids[customer.email] = customer.id
    # The same people in another tenant: never found from tenant A.
    for email, first, last in PEOPLE:
        customers.upsert_customer(tenant_b.id, {"email": email, "first_name": first, "last_name": last})
    return ids


def _found(tenant_id: int, q: str) -> set[str]:
    page = customers.list_customers(tenant_id, q=q, limit=100)
    assert customers.count_matching(tenant_id, q=q) == len(page.items)
    return {c.email for c in page.items}


@pytest.mark.parametrize(("q", "expected"), [
    ("zola", {"emile.zola@novel.example.com"}),
    ("ZOLA", {"emile.zola@novel.example.com"}),
    ("mile zo", {"emile.zola@novel.example.com"}),  # across first and last name
    ("@festival.example", {"zoe@festival.example.com", "percent%fan@festival.example.com"}),
    ("ZOË", {"zoe@festival.example.com"}),
    ("zoë bri", {"zoe@festival.example.com"}),
    ("anna lee", {"anna.lee@example.com"}),
    ("Anna.Lee@EXAMPLE", {"anna.lee@example.com"}),
    ("100%", {"percent%fan@festival.example.com"}),
    ("%", {"percent%fan@festival.example.com"}),
    ("under_", {"under_score@club.example.com"}),
    ("_", {"under_score@club.example.com"}),
    ("k\\s", {"back@slash.example.com"}),
    ("\\", {"back@slash.example.com"}),
    ("  slash  ", {"back@slash.example.com"}),
    ("nobody-has-this", set()),
])
def test_search_finds_the_fragment_in_email_or_name_literally_and_in_one_tenant(people, tenant_a, q, expected):
    assert _found(tenant_a.id, q) == expected


def test_search_folds_the_case_of_accented_letters_on_postgresql(people, tenant_a):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite's lower() folds ASCII letters only")
    assert _found(tenant_a.id, "ÉMILE") == {"emile.zola@novel.example.com"}
    assert _found(tenant_a.id, "émile z") == {"emile.zola@novel.example.com"}


def test_search_agrees_with_a_plain_substring_rule_for_any_ascii_fragment(people, tenant_a):
    rows = [(c.email, f"{c.first_name or ''} {c.last_name or ''}".lower())
            for c in customers.list_customers(tenant_a.id, limit=100).items]

    @settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.text(alphabet="aeiouzlnst%_\\@. -", min_size=1, max_size=6))
    def check(q):
        fragment = q.strip().lower()
        expected = ({email for email, name in rows if fragment in email or fragment in name} if fragment
                    else {email for email, _ in rows})
        assert _found(tenant_a.id, q) == expected

    check()


def _plans_of_searches(tenant_id: int, q: str) -> list[str]:
    """EXPLAIN of each statement the list page's search runs (the page and its count)."""
    statements = []

    def remember(conn, cursor, statement, parameters, context, executemany):
        if "LIKE" in statement:
            statements.append((statement, parameters))

    engine = db.session.get_bind()
    event.listen(engine, "before_cursor_execute", remember)
    try:
        customers.list_customers(tenant_id, q=q, limit=25)
        customers.count_matching(tenant_id, q=q)
    finally:
        event.remove(engine, "before_cursor_execute", remember)
    connection = db.session.connection()
    return ["\n".join(row[0] for row in connection.exec_driver_sql(f"EXPLAIN {statement}", parameters))
            for statement, parameters in statements]


def test_search_by_a_fragment_reads_the_trigram_indexes_on_postgresql(tenant_a):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the trigram indexes are PostgreSQL's")
    db.session.execute(insert(Customer), [
        {"tenant_id": tenant_a.id, "email": f"fan{i}@crowd{i % 97}.example.com", "first_name": f"First{i}",
         "last_name": f"Last{i}"} for i in range(5000)])
    db.session.commit()
    # Rows written since an index was built wait in its GIN pending list, which every search
    # reads and the planner prices in, until (auto)vacuum merges it: merge it now, as it would.
    db.session.connection().exec_driver_sql(
        "SELECT gin_clean_pending_list('ix_customers_email_trgm'), gin_clean_pending_list('ix_customers_name_trgm')")
    db.session.connection().exec_driver_sql("ANALYZE customers")
    # A plan is a matter of costs: with sequential scans priced out, the index must be usable.
    db.session.connection().exec_driver_sql("SET LOCAL enable_seqscan = off")

    by_email, by_name = _plans_of_searches(tenant_a.id, "fan1234@"), _plans_of_searches(tenant_a.id, "last1234")

    assert len(by_email) == len(by_name) == 2
    for plan in by_email + by_name:
        assert "ix_customers_email_trgm" in plan and "ix_customers_name_trgm" in plan, plan
    db.session.rollback()
    assert {c.email for c in customers.list_customers(tenant_a.id, q="last1234", limit=25).items} == {
        "fan1234@crowd70.example.com"}
