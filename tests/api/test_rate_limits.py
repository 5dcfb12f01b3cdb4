"""Rate limits are counted in Redis: two app instances (two web processes) sharing one Redis
share one budget. Limits here are tiny so that the tests reach them in a few requests."""

from __future__ import annotations

import re
import time

import pytest

from webapp import create_app

SMALL_LIMITS = {
    "RATELIMIT_API": "3 per 2 seconds",
    "RATELIMIT_LOGIN_ACCOUNT": "3 per 1 minute",
    "RATELIMIT_LOGIN_ADDRESS": "5 per 1 minute",
    "RATELIMIT_UNSUBSCRIBE": "2 per 1 minute",
    "RATELIMIT_PUBLIC": "2 per 1 minute",
}


@pytest.fixture
def two_instances(app):
    """Two independent apps on the suite's database and Redis, as two web processes are."""
    config = {key: app.config[key] for key in ("SQLALCHEMY_DATABASE_URI", "REDIS_URL", "BASE_URL",
                                                "PASSWORD_HASH_METHOD")}
    instances = [create_app({**config, "TESTING": True, "SECRET_KEY": "test-secret", **SMALL_LIMITS})
                 for _ in range(2)]
    yield [FormClient(instance.test_client()) for instance in instances]
    from webapp.extensions import db

    for instance in instances:
        with instance.app_context():
            db.engine.dispose()


class FormClient:
    """A test client that sends the sign-in form's CSRF token with each form post."""

    def __init__(self, client):
        self.client = client

    def get(self, *args, **kwargs):
        return self.client.get(*args, **kwargs)

    def post(self, path: str, data: dict, form_page: str = "/login"):
        page = self.client.get(form_page).get_data(as_text=True)
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"|"X-CSRFToken": "([^"]+)"', page)
        token = token.group(1) or token.group(2)
        return self.client.post(path, data={**data, "csrf_token": token})


def _wait_for_the_window() -> None:
    time.sleep(2.05)


def test_the_api_limit_is_shared_across_instances_and_resets(two_instances, tenant_a):
    one, two = two_instances
    headers = tenant_a.headers
    assert [c.get("/api/crm/customers", headers=headers).status_code for c in (one, two, one)] == [200, 200, 200]
    limited = two.get("/api/crm/customers", headers=headers)
    assert limited.status_code == 429
    assert limited.is_json and limited.get_json()["error"]["code"] == "rate_limited"
    assert 1 <= int(limited.headers["Retry-After"]) <= 2
    assert one.get("/api/crm/customers", headers=headers).status_code == 429
    _wait_for_the_window()
    assert one.get("/api/crm/customers", headers=headers).status_code == 200


def test_retry_after_is_only_on_answers_that_ask_the_client_to_wait(two_instances, tenant_a):
    """Flask-Limiter writes Retry-After on every answer of a limited view; a 200 or a 422 does
    not ask the client to wait, and a 429 names the window's reset (its own header stays)."""
    one, _ = two_instances
    headers = tenant_a.headers
    answered = [one.get("/api/crm/customers", headers=headers),
                one.client.post("/api/crm/customers", json={"email": "not an email"}, headers=headers)]
    assert [r.status_code for r in answered] == [200, 422]
    assert all("Retry-After" not in r.headers and "X-RateLimit-Remaining" in r.headers for r in answered)
    # Each route has its budget (the 422's was another): the list's third answer is its last.
    assert [one.get("/api/crm/customers", headers=headers).status_code for _ in range(2)] == [200, 200]
    limited = one.get("/api/crm/customers", headers=headers)
    assert limited.status_code == 429 and 1 <= int(limited.headers["Retry-After"]) <= 2


def test_the_api_limit_is_per_token(two_instances, tenant_a, tenant_b):
    one, two = two_instances
    for _ in range(3):
        assert one.get("/api/crm/customers", headers=tenant_a.headers).status_code == 200
    assert two.get("/api/crm/customers", headers=tenant_a.headers).status_code == 429
    # Another token (another tenant's integration) is not held back by the first one.
    assert two.get("/api/crm/customers", headers=tenant_b.headers).status_code == 200


def test_failed_sign_ins_are_limited_per_account_across_instances(two_instances, tenant_a, password):
    one, two = two_instances
    wrong = {"email": tenant_a.owner_email, "password": "not-the-password"}
    assert [c.post("/login", data=wrong).status_code for c in (one, two, one)] == [401, 401, 401]
    # The fourth attempt is refused before the password is even checked, the right one too.
    blocked = two.post("/login", data={"email": tenant_a.owner_email, "password": password})
    assert blocked.status_code == 429
    assert "Too many failed sign-in attempts" in blocked.get_data(as_text=True)
    assert "Retry-After" in blocked.headers
    # Another account from the same address still gets its own attempts.
    assert one.post("/login", data={"email": "someone@else.example.com", "password": "x"}).status_code == 401


def test_successful_sign_ins_do_not_count(two_instances, tenant_a, password):
    one, two = two_instances
    right = {"email": tenant_a.owner_email, "password": password}
    for client in (one, two, one, two, one):
        assert client.post("/login", data=right).status_code == 302
        assert client.post("/logout", data={}, form_page="/dashboard").status_code == 302


def test_sign_ins_are_limited_per_address(two_instances):
    one, two = two_instances
    codes = [(one if i % 2 else two).post("/login", data={"email": f"user{i}@example.com", "password": "x"})
             .status_code for i in range(6)]
    assert codes == [401] * 5 + [429]


def test_unsubscribe_pages_are_limited_per_address(two_instances):
    one, two = two_instances
    codes = [c.get(f"/u/{'0' * 32}").status_code for c in (one, two, one)]
    assert codes[:2] == [404, 404] and codes[2] == 429


def test_the_public_openapi_document_is_limited_per_address(two_instances):
    one, two = two_instances
    codes = [c.get("/api/crm/openapi.json").status_code for c in (one, two, one)]
    assert codes == [200, 200, 429]
    assert one.get("/api/crm/openapi.json").get_json()["error"]["code"] == "rate_limited"


def test_limits_turned_off_limit_nothing(app, tenant_a):
    config = {key: app.config[key] for key in ("SQLALCHEMY_DATABASE_URI", "REDIS_URL", "BASE_URL",
                                                "PASSWORD_HASH_METHOD")}
    instance = create_app({**config, "TESTING": True, "SECRET_KEY": "test-secret", **SMALL_LIMITS,
                           "RATELIMIT_ENABLED": False})
    client = instance.test_client()
    public = [client.get("/api/crm/openapi.json").status_code for _ in range(4)]
    api = [client.get("/api/crm/customers", headers=tenant_a.headers).status_code for _ in range(5)]
    assert public == [200] * 4 and api == [200] * 5
    from webapp.extensions import db

    with instance.app_context():
        db.engine.dispose()


@pytest.mark.parametrize("hops, expected", [(0, [200, 200, 429, 429]), (1, [200, 200, 200, 200])])
def test_behind_a_proxy_each_forwarded_client_has_its_own_budget(app, hops, expected):
    """PROXY_HOPS=1: two clients behind one proxy are two addresses. Without it the header
    is ignored: a client cannot dodge its limit by sending X-Forwarded-For."""
    config = {key: app.config[key] for key in ("SQLALCHEMY_DATABASE_URI", "REDIS_URL", "BASE_URL",
                                                "PASSWORD_HASH_METHOD")}
    instance = create_app({**config, "TESTING": True, "SECRET_KEY": "test-secret", **SMALL_LIMITS,
                           "PROXY_HOPS": hops})
    client = instance.test_client()
    codes = [client.get("/api/crm/openapi.json", headers={"X-Forwarded-For": f"203.0.113.{n}"},
                        environ_base={"REMOTE_ADDR": "10.0.0.2"}).status_code for n in (1, 2, 3, 4)]
    assert codes == expected
    from webapp.extensions import db

    with instance.app_context():
        db.engine.dispose()
