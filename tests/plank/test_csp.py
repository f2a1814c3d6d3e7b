"""The Content-Security-Policy (issue 11): on every response (pages, the login page, errors,
redirects, the admin), scripts from Plank's own files only, and not one inline script in any
template of the project, so that the policy never has to be loosened."""

from __future__ import annotations

import asyncio
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib import admin
from django.http import HttpResponse
from django.test import Client, RequestFactory
from django.urls import NoReverseMatch, reverse

from plank.csp import HEADER, ContentSecurityPolicyMiddleware
from tests.factories import make_title

BASE_DIR = Path(settings.BASE_DIR)


def directives(response: HttpResponse) -> dict[str, list[str]]:
    value = response[HEADER]
    parsed = {}
    for part in value.split(";"):
        name, *sources = part.split()
        parsed[name] = sources
    return parsed


def assert_strict(response: HttpResponse) -> None:
    policy = directives(response)
    assert policy["script-src"] == ["'self'"]
    assert policy["default-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    for name in ("script-src", "default-src"):
        assert not {"'unsafe-inline'", "'unsafe-eval'", "*"} & set(policy[name]), name
    assert policy["frame-ancestors"] == ["'self'"] and policy["base-uri"] == ["'self'"]
    assert policy["form-action"] == ["'self'"]


# -- inline script in rendered HTML -----------------------------------------------------------


class InlineScript(HTMLParser):
    """Collects what a strict script-src blocks: <script> without src (bar JSON data blocks),
    on*= handlers, javascript: URLs."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script" and not values.get("src"):
            if (values.get("type") or "").lower() not in (
                "application/json",
                "application/ld+json",
            ):
                self.found.append(f"<script> without src: {self.get_starttag_text()}")
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"inline handler {name}= in <{tag}>")
            if value and value.strip().lower().startswith("javascript:"):
                self.found.append(f"javascript: URL in <{tag} {name}>")


def inline_script(html: str) -> list[str]:
    parser = InlineScript()
    parser.feed(html)
    return parser.found


def test_the_html_checker_finds_inline_script() -> None:
    bad = (
        '<script>alert(1)</script><select onchange="x()"></select><a href="javascript:x()">x</a>'
        '<script src="/static/ok.js"></script><script type="application/json">{}</script>'
    )
    assert len(inline_script(bad)) == 3


# -- the header --------------------------------------------------------------------------------


@pytest.mark.django_db
def test_every_kind_of_response_has_the_policy(owner, client_owner: Client) -> None:
    title = make_title(title="Heat", year=1995)
    for path, status in [
        ("/", 200),
        (f"/media/{title.pk}/", 200),
        ("/settings/library/", 200),
        ("/browse/", 200),
        ("/no/such/page/", 404),
    ]:
        response = client_owner.get(path)
        assert response.status_code == status, path
        assert_strict(response)
        assert inline_script(response.content.decode()) == [], path
    anonymous = Client()
    login = anonymous.get("/accounts/login/")
    assert login.status_code == 200
    assert_strict(login)
    assert inline_script(login.content.decode()) == []
    redirected = anonymous.get("/")
    assert redirected.status_code == 302 and HEADER in redirected
    htmx = client_owner.get("/", HTTP_HX_REQUEST="true")
    assert HEADER in htmx


@pytest.mark.django_db
def test_a_failing_view_and_a_bad_host_still_get_the_policy(settings, owner) -> None:
    settings.ROOT_URLCONF = "tests.plank.test_error_pages"  # it adds a view that raises
    client = Client(raise_request_exception=False)
    client.force_login(owner)
    failed = client.get("/boom/")
    assert failed.status_code == 500
    assert_strict(failed)
    bad_host = Client().get("/", HTTP_HOST="evil.example")
    assert bad_host.status_code == 400
    assert directives(bad_host)["connect-src"] == ["'self'"]  # no host it has not vetted


@pytest.mark.django_db
def test_the_live_socket_of_this_host_is_allowed(client_owner: Client, settings) -> None:
    settings.ALLOWED_HOSTS = ["plank.lan"]
    response = client_owner.get("/", HTTP_HOST="plank.lan:8000")
    connect = directives(response)["connect-src"]
    assert connect == ["'self'", "ws://plank.lan:8000", "wss://plank.lan:8000"]
    policy = directives(response)
    assert policy["img-src"] == ["'self'", "data:", "blob:"]
    assert policy["media-src"] == ["'self'", "blob:"]
    assert policy["style-src"] == ["'self'", "'unsafe-inline'"]


def test_a_policy_set_by_a_view_is_kept_sync_and_async() -> None:
    request = RequestFactory().get("/")

    def own(request):
        response = HttpResponse("x")
        response[HEADER] = "default-src 'none'"
        return response

    assert ContentSecurityPolicyMiddleware(own)(request)[HEADER] == "default-src 'none'"
    plain = ContentSecurityPolicyMiddleware(lambda r: HttpResponse("x"))(request)
    assert directives(plain)["script-src"] == ["'self'"]

    async def view(request):
        return HttpResponse("x")

    middleware = ContentSecurityPolicyMiddleware(view)
    response = asyncio.run(middleware(request))
    assert directives(response)["script-src"] == ["'self'"]


@pytest.mark.django_db
def test_the_admin_has_no_inline_script(client_owner: Client) -> None:
    """Django 5.2's admin passes its data in data- attributes and JSON blocks, not inline
    script: every changelist and add page of every registered model, and a change page."""
    title = make_title(title="Heat", year=1995)
    paths = ["/admin/", f"/admin/media/title/{title.pk}/change/"]
    for model in admin.site._registry:
        meta = model._meta
        for view in ("changelist", "add"):
            try:
                paths.append(reverse(f"admin:{meta.app_label}_{meta.model_name}_{view}"))
            except NoReverseMatch:
                continue
    assert len(paths) > 10
    for path in paths:
        response = client_owner.get(path)
        if response.status_code == 403:  # an add page the admin turns off
            continue
        assert response.status_code == 200, path
        assert_strict(response)
        assert inline_script(response.content.decode()) == [], path


# -- the templates -----------------------------------------------------------------------------


def template_files() -> list[Path]:
    """Every template of Plank's own: the project's templates/ and each of its apps'."""
    dirs = [Path(d) for engine in settings.TEMPLATES for d in engine["DIRS"]]
    for config in apps.get_app_configs():
        path = Path(config.path)
        if path.is_relative_to(BASE_DIR) and ".venv" not in path.parts:
            dirs.append(path / "templates")
    return sorted(f for d in dirs if d.is_dir() for f in d.rglob("*.html"))


TAG = re.compile(r"<[a-zA-Z][^<>]*>", re.S)
FORBIDDEN = {
    # on*= inside a tag (onclick, onchange, onload...)
    "an inline on*= handler": re.compile(r"\son[a-z]+\s*=", re.I),
    # htmx's handlers and eval'd values: off with allowEval false, blocked by script-src
    "hx-on": re.compile(r"\b(?:data-)?hx-on\b", re.I),
    "hx-vars": re.compile(r"\b(?:data-)?hx-vars\b", re.I),
    "a js:/javascript: value": re.compile(r"=\s*['\"]\s*(?:js|javascript):", re.I),
    "an hx-trigger [filter]": re.compile(r"hx-trigger\s*=\s*(['\"])[^'\"]*\[", re.I),
}
SCRIPT = re.compile(r"<script\b([^>]*)>", re.I)


def template_problems(text: str) -> list[str]:
    problems = []
    for tag in TAG.findall(text):
        problems += [f"{what}: {tag[:120]}" for what, rule in FORBIDDEN.items() if rule.search(tag)]
    for attrs in SCRIPT.findall(text):
        data = re.search(r"type\s*=\s*['\"]application/(?:ld\+)?json", attrs, re.I)
        if not re.search(r"\bsrc\s*=", attrs, re.I) and not data:
            problems.append(f"<script> without src: <script{attrs}>")
    return problems


def test_the_template_checker_finds_each_kind() -> None:
    bad = [
        '<select name="s" onchange="this.form.submit()">',
        '<button hx-on:click="go()">',
        '<button hx-on::after-request="go()">',
        "<button hx-vals='js:{a: 1}'>",
        '<a href="javascript:void(0)">',
        "<input hx-trigger=\"keyup[key=='Enter']\">",
        '<div hx-vars="a:1">',
        "<script>alert(1)</script>",
        '<script type="module">import "x"</script>',
    ]
    for snippet in bad:
        assert template_problems(snippet), snippet
    good = (
        "<script src=\"{% static 'plank/plank.js' %}\" defer></script>"
        "<select data-submit-on-change>{% if a %}<option selected>{% endif %}</select>"
        '<input hx-trigger="input changed delay:150ms, search" hx-include="#folder-path">'
        '<p>Turn this on = off</p>{{ data|json_script:"d" }}'
    )
    assert template_problems(good) == []


def test_no_template_has_inline_script() -> None:
    files = template_files()
    names = {str(f.relative_to(BASE_DIR)) for f in files}
    for expected in (
        "templates/base.html",
        "media/templates/media/library.html",
        "media/templates/media/libraries.html",
        "media/templates/media/libraries_browse.html",
        "templates/admin/base_site.html",
    ):
        assert expected in names  # the scan reaches every templates folder
    assert any(n.startswith("browse/templates/") for n in names)
    assert any(n.startswith("torrents/templates/") for n in names)
    problems = [
        f"{f.relative_to(BASE_DIR)}: {p}" for f in files for p in template_problems(f.read_text())
    ]
    assert problems == []


def test_htmx_eval_is_off() -> None:
    base = (BASE_DIR / "templates/base.html").read_text()
    assert '<meta name="htmx-config" content=\'{"allowEval": false' in base


def test_plank_scripts_do_not_eval() -> None:
    scripts = sorted((BASE_DIR / "static/plank").glob("*.js"))
    assert scripts
    for script in scripts:
        text = script.read_text()
        assert not re.search(r"\beval\s*\(|new\s+Function\s*\(", text), script.name
        assert not re.search(r"setTimeout\s*\(\s*['\"]", text), script.name
