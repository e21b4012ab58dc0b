"""The playground's files over HTTP: served at `/` and `/playground/...`, a strict CSP, nothing else."""

from __future__ import annotations

import re
from pathlib import Path

from support.api import Api
from vidgate.api.web import ASSETS, content_security_policy, media_origins
from vidgate.settings import Settings

WEB = Path(__file__).parents[2] / "src" / "vidgate" / "web"


def test_the_page_and_its_files(api: Api) -> None:
    page = api.client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<label for="api-key">API key</label>' in page.text
    scripts = [(f"/playground/{name}", "text/javascript") for name in ASSETS if name.endswith(".js")]
    for path, kind in [*scripts, ("/playground/style.css", "text/css")]:
        asset = api.client.get(path)
        assert asset.status_code == 200 and asset.headers["content-type"].startswith(kind)
        assert asset.headers["content-security-policy"] == page.headers["content-security-policy"]
    assert api.client.head("/").status_code == 200


def test_other_names_are_the_envelope_404(api: Api) -> None:
    for path in ("/playground/index.html", "/playground/..%2Fapp.py", "/playground/nope.js"):
        answer = api.client.get(path)
        assert answer.status_code == 404 and answer.json()["reason"] == "API_NOT_FOUND", path


def test_the_policy_allows_no_inline_code_and_no_other_origin(api: Api) -> None:
    policy = dict(
        part.strip().split(" ", 1)
        for part in api.client.get("/").headers["content-security-policy"].split(";")
    )
    assert policy["default-src"] == "'self'" and policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'" and policy["connect-src"] == "'self'"
    assert policy["media-src"] == "'self'", "local storage: videos come from this origin"
    assert policy["object-src"] == "'none'" and policy["frame-ancestors"] == "'none'"
    assert "unsafe" not in " ".join(policy.values())


def test_the_files_have_no_inline_code_and_name_no_other_host() -> None:
    html = (WEB / "index.html").read_text()
    assert "<script>" not in html and "<style" not in html and " style=" not in html
    assert not re.search(r"\son[a-z]+\s*=", html), "no inline event handlers"
    assert set(ASSETS) == {p.name for p in WEB.iterdir()} - {"index.html"}, "every file is served"
    for name in ("index.html", *ASSETS):
        text = (WEB / name).read_text()
        assert "//cdn" not in text and "fonts.googleapis" not in text and "@import" not in text, name


def test_media_origins_follow_where_videos_are_kept(settings: Settings) -> None:
    assert media_origins(settings) == []
    public = settings.model_copy(update={"public_base_url": "https://videos.example.com/base/"})
    assert media_origins(public) == ["https://videos.example.com"]
    minio = settings.model_copy(
        update={"storage_url": "s3://clips/p", "s3_endpoint_url": "http://minio:9000",
                "s3_public_endpoint_url": "https://media.example.org"}
    )  # fmt: skip
    assert media_origins(minio) == ["https://media.example.org"]
    aws = settings.model_copy(update={"storage_url": "s3://clips", "s3_region": "eu-west-1"})
    assert media_origins(aws) == [
        "https://clips.s3.amazonaws.com",
        "https://clips.s3.eu-west-1.amazonaws.com",
    ]
    assert "media-src 'self' https://clips.s3.amazonaws.com https://clips.s3.eu-west-1.amazonaws.com" in (
        content_security_policy(aws)
    )
