"""The original .eml beside a mail's message: agents always, a customer only for the mail
they sent themselves (it may carry colleagues' addresses and quoted history)."""
from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from mailgate import services
from tickets.models import Attachment

from .conftest import corpus

pytestmark = pytest.mark.django_db


@pytest.fixture
def originals(thread, mailbox, customer_a):
    """Alice answers by mail, then her colleague Bob does: each message keeps its original."""
    alice = services.ingest(corpus("02_gmail_reply.eml", thread.pk), mailbox)
    bob = services.ingest(corpus("16_outlook_reply_plain.eml", thread.pk), mailbox)
    return (Attachment.objects.get(message=alice.inbound.ticket_message),
            Attachment.objects.get(message=bob.inbound.ticket_message))


def test_customer_gets_the_original_of_their_own_mail_only(originals, thread, client,
                                                           customer_a, org_admin_a, agent):
    alices, bobs = originals
    assert alices.sender_only and bobs.sender_only
    assert alices.filename == bobs.filename == "original-message.eml"

    def download(user, attachment) -> int:
        client.force_login(user)
        return client.get(reverse("portal:attachment", args=[attachment.pk])).status_code

    assert download(customer_a, alices) == 200
    assert download(customer_a, bobs) == 404
    assert download(org_admin_a, alices) == download(org_admin_a, bobs) == 404  # sees the
    assert download(agent, alices) == download(agent, bobs) == 200              # ticket

    client.force_login(customer_a)
    page = client.get(reverse("portal:ticket", args=[thread.pk])).content.decode()
    assert reverse("portal:attachment", args=[alices.pk]) in page
    assert reverse("portal:attachment", args=[bobs.pk]) not in page
    assert "same problem here since Tuesday" in page  # Bob's words are shown, not his file

    client.force_login(agent)
    page = client.get(reverse("agent:ticket", args=[thread.pk])).content.decode()
    assert reverse("portal:attachment", args=[bobs.pk]) in page
    assert "visible to staff and its sender only" in page


def test_the_api_lists_the_original_to_its_sender_and_agents_only(originals, thread,
                                                                  customer_a, agent):
    alices, bobs = originals

    def attachment_ids(user) -> set[int]:
        api = APIClient()
        api.force_authenticate(user)
        results = api.get(f"/api/v1/tickets/{thread.pk}/messages/").json()["results"]
        return {a["id"] for m in results for a in m["attachments"]}

    assert attachment_ids(customer_a) == {alices.pk}
    assert attachment_ids(agent) == {alices.pk, bobs.pk}
