"""Authentication over real HTTP: tokens (hashed, revocable, scoped), sessions with CSRF,
methods, and what anonymous callers get."""

from __future__ import annotations

import datetime as dt

import pytest
import requests
from django.utils import timezone

from tessera.api import tokens
from tessera.api.models import AccessToken

QUERY = "{ me { username scopes } }"


@pytest.fixture
def url(live_server, shop) -> str:
    return f"{live_server.url}/graphql"


def post(url: str, body, token: str | None = None, **kwargs) -> requests.Response:
    headers = kwargs.pop("headers", {})
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return requests.post(url, json=body, headers=headers, timeout=30, **kwargs)


def test_tokens_are_stored_hashed_scoped_and_revocable(url, admin):
    raw, token = tokens.issue(admin, "ci", ["read"])
    assert raw not in str(AccessToken.objects.values_list().get(pk=token.pk))
    assert token.digest == tokens.digest(raw) and raw.startswith(token.prefix)
    ok = post(url, {"query": QUERY}, raw)
    assert ok.status_code == 200
    assert ok.json()["data"]["me"] == {"username": "root", "scopes": ["read"]}
    tokens.revoke(token)
    gone = post(url, {"query": QUERY}, raw)
    assert gone.status_code == 401
    assert gone.json()["errors"][0]["extensions"]["code"] == "unauthenticated"
    old, _stale = tokens.issue(admin, "old", expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert post(url, {"query": QUERY}, old).status_code == 401
    assert post(url, {"query": QUERY}, "tsr_made-up").status_code == 401
    basic = post(url, {"query": QUERY}, headers={"Authorization": "Basic cm9vdDpwdw=="})
    assert basic.status_code == 401
    with pytest.raises(ValueError, match="unknown scopes"):
        tokens.issue(admin, "x", ["root"])


def test_anonymous_callers_get_401_and_no_data(url):
    response = post(url, {"query": QUERY})
    assert response.status_code == 401 and "data" not in response.json()


def session(live_server, admin) -> requests.Session:
    browser = requests.Session()
    page = browser.get(f"{live_server.url}/django-admin/login/", timeout=30)
    assert page.status_code == 200
    csrf = browser.cookies["csrftoken"]
    login = browser.post(
        f"{live_server.url}/django-admin/login/",
        data={"username": "root", "password": "pw-1234567", "csrfmiddlewaretoken": csrf},
        headers={"Referer": f"{live_server.url}/django-admin/login/"},
        timeout=30,
        allow_redirects=False,
    )
    assert login.status_code == 302 and "sessionid" in browser.cookies
    return browser


def test_sessions_need_the_csrf_token_to_post(live_server, url, admin):
    browser = session(live_server, admin)
    refused = browser.post(url, json={"query": QUERY}, timeout=30)
    assert refused.status_code == 403
    assert refused.json()["errors"][0]["extensions"]["code"] == "csrf"
    headers = {"X-CSRFToken": browser.cookies["csrftoken"], "Referer": url}
    ok = browser.post(url, json={"query": QUERY}, headers=headers, timeout=30)
    assert ok.status_code == 200
    assert ok.json()["data"]["me"]["username"] == "root"
    # a session may mint a token; a token may not mint another
    minted = browser.post(
        url,
        json={
            "query": 'mutation { createAccessToken(name: "cli", scopes: ["read"]) '
            "{ token errors { code } } }"
        },
        headers=headers,
        timeout=30,
    ).json()["data"]["createAccessToken"]
    assert minted["token"].startswith("tsr_")
    again = post(
        url, {"query": 'mutation { createAccessToken(name: "x") { token } }'}, minted["token"]
    )
    assert again.json()["errors"][0]["extensions"]["code"] == "permission_denied"
    # a GET query through the session needs no CSRF token (it changes nothing)
    read = browser.get(url, params={"query": QUERY}, timeout=30)
    assert read.status_code == 200 and read.json()["data"]["me"]["username"] == "root"


def test_methods(url, admin_token):
    headers = {"Authorization": f"Bearer {admin_token}"}
    mutation = 'mutation { validateDefinition(kind: OBJECT, key: "x", body: {}) { ok } }'
    by_get = requests.get(url, params={"query": mutation}, headers=headers, timeout=30)
    assert by_get.status_code == 405
    put = requests.put(url, json={"query": QUERY}, headers=headers, timeout=30)
    assert put.status_code == 405 and put.headers["Allow"] == "GET, POST"
    query = requests.get(url, params={"query": QUERY}, headers=headers, timeout=30)
    assert query.status_code == 200


def test_abusive_queries_are_refused_over_http(url, admin_token):
    deep = "name"
    for _ in range(4):
        deep = f"orders(first: 1) {{ nodes {{ customer {{ {deep} }} }} }}"
    too_deep = post(
        url, {"query": f"{{ customers(first: 1) {{ nodes {{ {deep} }} }} }}"}, admin_token
    )
    assert too_deep.status_code == 400
    assert too_deep.json()["errors"][0]["extensions"]["code"] == "too_deep"
    costly = (
        "{ customers(first: 100) { nodes { orders(first: 100) { nodes { total "
        "customer { orders(first: 100) { totalCount } } } } } } }"
    )
    too_costly = post(url, {"query": costly}, admin_token)
    assert too_costly.status_code == 400
    assert too_costly.json()["errors"][0]["extensions"]["code"] == "too_costly"
    fragment = post(url, {"query": "{ customers { nodes { ...Nope } } }"}, admin_token)
    assert fragment.status_code == 400
