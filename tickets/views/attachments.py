"""Attachment downloads, always through a permission check (media is never served directly)."""
from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest
from django.views.decorators.http import require_http_methods

from .. import selectors
from ..models import Attachment


@login_required
@require_http_methods(["GET", "HEAD"])
def download(request: HttpRequest, pk: int) -> FileResponse:
    """The file, if the user can see its ticket and, for customers, its message is public
    (and, for a sender-only record such as the original e-mail, they wrote that message).

    Anything else is a 404, so a guessed id tells nothing about what exists.
    """
    user = request.user
    qs = Attachment.objects.filter(
        pk=pk, message__ticket__in=selectors.visible_tickets(user).values("pk")
    )
    if not user.is_agent:
        qs = qs.filter(selectors.customer_attachment_filter(user))
    attachment = qs.first()
    if attachment is None:
        raise Http404("No such attachment")
    try:
        handle = attachment.file.open("rb")
    except (FileNotFoundError, ValueError) as exc:
        raise Http404("The file is no longer available") from exc
    response = FileResponse(
        handle, as_attachment=True, filename=attachment.filename,
        content_type=attachment.content_type or "application/octet-stream",
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response
