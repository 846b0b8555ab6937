"""The admin's "View site" link leads to the API documentation, which answers."""

from django.urls import reverse


def test_view_site_opens_the_api_docs(admin_client):
    index = admin_client.get(reverse("admin:index"))

    assert 'href="/api/docs/andcharge/"' in index.content.decode()
    assert admin_client.get("/api/docs/andcharge/").status_code == 200
