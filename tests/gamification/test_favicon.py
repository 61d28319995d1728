"""The site's icon: /favicon.ico answers, and every admin page names the same file."""

from __future__ import annotations

import struct

import pytest
from django.contrib.auth.models import User
from django.contrib.staticfiles import finders
from django.templatetags.static import static
from django.urls import reverse

ICON = "gamification/favicon.ico"


def test_favicon_ico_redirects_permanently_to_the_static_icon(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    assert response["Location"] == static(ICON)


def test_the_static_icon_is_an_ico_with_16_and_32_pixel_images():
    path = finders.find(ICON)
    assert path is not None
    with open(path, "rb") as handle:
        data = handle.read()
    reserved, kind, count = struct.unpack_from("<HHH", data)
    assert (reserved, kind) == (0, 1)
    sizes = []
    for index in range(count):
        width, height, *_rest, size, offset = struct.unpack_from("<BBBBHHII", data, 6 + 16 * index)
        assert data[offset : offset + 8] == b"\x89PNG\r\n\x1a\n"
        assert offset + size <= len(data)
        sizes.append((width, height))
    assert sizes == [(16, 16), (32, 32)]


@pytest.mark.django_db
def test_admin_pages_link_the_icon(client):
    link = f'<link rel="icon" href="{static(ICON)}"'
    assert link in client.get(reverse("admin:login")).content.decode()
    client.force_login(User.objects.create_superuser("root", password="pw-12345!"))
    for name in ("admin:index", "admin:strategies_strategydefinition_add"):
        assert link in client.get(reverse(name)).content.decode(), name
