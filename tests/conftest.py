"""Shared fixtures: a real database (SQLite, or PostgreSQL with TEST_DATABASE_URL), a
private redis-server, the app, and two tenants for tenancy checks."""

from __future__ import annotations

import contextvars
import os
import tempfile
import threading
from dataclasses import dataclass

import pytest
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import text
from werkzeug.serving import make_server

from tests.dns_support import LocalDnsServer, unanswered_address
from webapp import create_app
from webapp.extensions import db
from webapp.services.kept_counts import KEPT
from webapp.testing import PrivateRedis, ThrowawayPostgres

PASSWORD = "correct-horse-battery"


def pytest_collection_modifyitems(config, items):
    """Tests that touch no test database would run word for word again on PostgreSQL:
    that run skips them (the SQLite run has them)."""
    if not os.environ.get("TEST_DATABASE_URL"):
        return
    again = pytest.mark.skip(reason="touches no database: the SQLite run has it")
    for item in items:
        if item.get_closest_marker("no_database"):
            item.add_marker(again)


@pytest.fixture(scope="session")
def redis_server():
    server = PrivateRedis().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def database_url():
    server_url = os.environ.get("TEST_DATABASE_URL")
    if server_url:
        # No test needs its commits on disk before they return; waiting for the disk's flush
        # was about a tenth of the PostgreSQL run. (test_mark_sent.py checks the one place the
        # app turns it off itself against a connection set back on.)
        pg = ThrowawayPostgres(server_url).create().set_default("synchronous_commit", "off")
        yield pg.url
        pg.drop()
    else:
        folder = tempfile.mkdtemp(prefix="crm-test-")
        yield f"sqlite:///{folder}/test.sqlite3"


class IsolatedClient(FlaskClient):
    """A test client whose every request runs in its own app context, as in production.

    Each test keeps an app context pushed (for db.session in the test body), and Flask
    would reuse it for test-client requests, so `g` (where Flask-Login caches the user)
    and the database session would leak from one request, and one client, into the next.
    """

    def open(self, *args, **kwargs):
        # End the test's own transaction first, so the request sees what the test wrote
        # and the test's connection holds no lock the request would wait for.
        db.session.commit()
        if self.preserve_context:
            # `with client:` keeps the request's contexts until the block ends, outside
            # any Context we could run it in: such tests get Flask's own behaviour.
            return super().open(*args, **kwargs)
        # Buffered: a streamed body (CSV exports) is then read inside the request's own
        # Context too, where its app context was pushed.
        kwargs.setdefault("buffered", True)
        return contextvars.Context().run(super().open, *args, **kwargs)


@pytest.fixture(scope="session")
def app(database_url, redis_server):
    app = create_app({
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "REDIS_URL": redis_server.url,
        "BASE_URL": "http://crm.test",
        # Hundreds of users are created; scrypt would be most of the suite's time.
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        "SERVER_NAME": None,
        "TRACKING_SPOOL_DIR": tempfile.mkdtemp(prefix="crm-test-spool-"),
        "ASSET_DIR": tempfile.mkdtemp(prefix="crm-test-assets-"),
        # Sending-domain checks never ask real DNS: a local port nothing answers on (tests
        # that verify a domain start a DNS server of their own and point here).
        "DNS_RESOLVER": unanswered_address(),
        "DNS_TIMEOUT": 1.0,
    })
    app.test_client_class = IsolatedClient
    with app.app_context():
        upgrade()  # the real migrations, so they are tested on both backends
    return app


def _truncate_all() -> None:
    tables = [t.name for t in reversed(db.metadata.sorted_tables)]  # children first
    # Counts kept by triggers last: emptying the rows they count writes deltas into them,
    # and on PostgreSQL workflow_enrollment_counts has no key to delete those with their
    # workflow (migration 0036), while the sequences below start again at 1.
    tables.sort(key=lambda name: name in KEPT)
    if db.engine.dialect.name == "postgresql":
        # TRUNCATE of every table took ~140 ms a test (new files for each of 35 tables); most
        # tests fill a few, so only those are emptied (DELETE: cheap on the few rows a test
        # writes), then every sequence starts again at 1 as RESTART IDENTITY did.
        probe = ", ".join(f"EXISTS (SELECT 1 FROM {name})" for name in tables)
        filled = db.session.execute(text(f"SELECT {probe}")).one()
        for name, has_rows in zip(tables, filled, strict=True):
            if has_rows or name in KEPT:  # kept counts: filled by the deletes before them
                db.session.execute(text(f"DELETE FROM {name}"))
        db.session.execute(text("SELECT setval(c.oid, 1, false) FROM pg_class c WHERE c.relkind = 'S'"))
    else:
        for name in tables:
            db.session.execute(text(f"DELETE FROM {name}"))
    db.session.commit()


@pytest.fixture(autouse=True)
def _clean_state(request, app, redis_server):
    """Every test starts with empty tables and an empty Redis."""
    with app.app_context():
        yield
        db.session.rollback()
        db.session.remove()
        _truncate_all()
        db.session.remove()
        # Hits a test answered but never drained (by any app of this process) go to Redis
        # now, before it is emptied, not into the next test's stream.
        from webapp.infra.hit_spool import ship_every_spool

        ship_every_spool()
    from redis import Redis

    Redis.from_url(redis_server.url).flushall()


@pytest.fixture(scope="session")
def password() -> str:
    """The password of every user the fixtures create. Sub-folders cannot import
    conftest.PASSWORD by name: pytest loads each folder's conftest.py as `conftest`."""
    return PASSWORD


def _run_in_threads(app, count: int, work) -> list:
    """Run work(i) in `count` threads released together, each in its own app context;
    returns each result, or the exception it raised."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def target(i: int) -> None:
        with app.app_context():
            barrier.wait()
            try:
                results[i] = work(i)
            except BaseException as exc:  # surfaced by the test's assertions, not lost in the thread
                results[i] = exc
            finally:
                db.session.remove()

    # End this thread's transaction first: on SQLite an open one holds the write lock.
    db.session.commit()
    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(t.is_alive() for t in threads), "a worker thread hung"
    return results


@pytest.fixture
def run_in_threads():
    """run_in_threads(app, count, work): concurrency tests' one way to start threads."""
    return _run_in_threads


@pytest.fixture(scope="session")
def live_server(app):
    """The test app on 127.0.0.1 and a free port, in a daemon thread; yields its base URL
    (browser tests, the Schemathesis run)."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def dns_server(app, monkeypatch):
    """A DNS server on 127.0.0.1 that the app asks (DNS_RESOLVER): set
    `dns_server.records[name] = [txt values]`."""
    with LocalDnsServer() as server:
        monkeypatch.setitem(app.config, "DNS_RESOLVER", server.address)
        yield server


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@dataclass
class TenantFixture:
    id: int
    token: str
    owner_email: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def make_tenant(name: str, email: str) -> TenantFixture:
    from webapp.services.tenants import create_tenant

    tenant, user, secret = create_tenant(name, email, PASSWORD)
    return TenantFixture(tenant.id, secret, user.email)


@pytest.fixture
def tenant_a(app) -> TenantFixture:
    return make_tenant("Arena Alpha", "owner@alpha.example.com")


@pytest.fixture
def tenant_b(app) -> TenantFixture:
    return make_tenant("Bravo Club", "owner@bravo.example.com")


class ApiClient:
    """Test client bound to one tenant's token: api.post('/customers', json=...)."""

    def __init__(self, client, tenant: TenantFixture):
        self.client = client
        self.tenant = tenant

    def _call(self, method: str, path: str, **kwargs):
        headers = {**self.tenant.headers, **kwargs.pop("headers", {})}
        return self.client.open("/api/crm" + path, method=method, headers=headers, **kwargs)

    def get(self, path, **kw):
        return self._call("GET", path, **kw)

    def post(self, path, **kw):
        return self._call("POST", path, **kw)

    def patch(self, path, **kw):
        return self._call("PATCH", path, **kw)

    def put(self, path, **kw):
        return self._call("PUT", path, **kw)

    def delete(self, path, **kw):
        return self._call("DELETE", path, **kw)


@pytest.fixture
def api(client, tenant_a) -> ApiClient:
    return ApiClient(client, tenant_a)


@pytest.fixture
def api_b(app, tenant_b) -> ApiClient:
    return ApiClient(app.test_client(), tenant_b)


class AuthActions:
    """Log a marketer in and out through the real login form."""

    def __init__(self, client):
        self.client = client

    def csrf_token(self, path: str = "/login") -> str:
        import re

        html = self.client.get(path).get_data(as_text=True)
        match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or \
            re.search(r'"X-CSRFToken": "([^"]+)"', html)
        assert match, f"no CSRF token on {path}"
        return match.group(1)

    def login(self, email: str, password: str = PASSWORD):
        token = self.csrf_token("/login")
        return self.client.post("/login", data={"email": email, "password": password, "csrf_token": token})

    def logout(self):
        return self.client.post("/logout", data={"csrf_token": self.csrf_token("/dashboard")})


@pytest.fixture
def auth(client) -> AuthActions:
    return AuthActions(client)


# --- contention on PostgreSQL: another transaction, and writes refused as a deadlock's loser -----

@pytest.fixture
def other():
    """A connection of its own, outside the session: the concurrent request's transaction
    (rolled back and closed whatever the test does, so no request is left waiting on it)."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("row locks and deadlocks: PostgreSQL (SQLite writes one transaction at a time)")
    connection = db.engine.connect()
    yield connection
    connection.close()


@pytest.fixture
def refusing_customer_writes(other):
    """refuse(times, email=None): PostgreSQL answers the next `times` writes of a customer's
    row (of the one with `email` only, when given) with deadlock_detected (the real error,
    raised by a trigger), as if another transaction had locked its way into a circle with them."""
    statements = [
        # A sequence, not a table: its count survives the rollback of each refused attempt.
        "CREATE SEQUENCE contention_refused",
        "CREATE TABLE contention_left (n integer NOT NULL, email text)",
        """CREATE FUNCTION refuse_for_contention() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN
             IF NOT EXISTS (SELECT 1 FROM contention_left WHERE email IS NOT NULL AND email <> NEW.email)
                AND nextval('contention_refused') <= (SELECT coalesce(max(n), 0) FROM contention_left) THEN
               RAISE EXCEPTION 'deadlock detected (test)' USING ERRCODE = '40P01';
             END IF;
             RETURN NEW;
           END $$""",
        "CREATE TRIGGER refuse_for_contention BEFORE UPDATE ON customers "
        "FOR EACH ROW EXECUTE FUNCTION refuse_for_contention()"]
    db.session.commit()  # the DDL waits for every open transaction that read customers
    with other.begin():
        for statement in statements:
            other.execute(text(statement))

    def refuse(times: int, email: str | None = None) -> None:
        with other.begin():
            other.execute(text("DELETE FROM contention_left"))
            other.execute(text("INSERT INTO contention_left VALUES (:n, :email)"), {"n": times, "email": email})
            other.execute(text("ALTER SEQUENCE contention_refused RESTART"))

    yield refuse
    db.session.remove()
    with other.begin():
        other.execute(text("DROP TRIGGER refuse_for_contention ON customers"))
        other.execute(text("DROP FUNCTION refuse_for_contention()"))
        other.execute(text("DROP TABLE contention_left"))
        other.execute(text("DROP SEQUENCE contention_refused"))
