def test_login_page_renders(client):
    response = client.get("/login")
    assert response.status_code == 200
    assert b"Log in" in response.data


def test_api_requires_a_token(client):
    response = client.get("/api/crm/customers")
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"


def test_owner_can_log_in_and_see_dashboard(auth, client, tenant_a):
    response = auth.login(tenant_a.owner_email)
    assert response.status_code == 302
    page = client.get("/dashboard")
    assert page.status_code == 200
    assert b"Arena Alpha" in page.data
