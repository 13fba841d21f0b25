"""The links in campaign messages: the open pixel, tracked clicks, the unsubscribe page.

A bad or forged token is a 404, never an error page: nothing about the message leaks. The
unsubscribe link shows a confirmation form on GET (mail scanners follow links; they must not
unsubscribe anyone) and acts on POST, which is also what RFC 8058 one-click unsubscribe from
the mail client sends (``List-Unsubscribe-Post``); the signed token is the only credential.
"""

from __future__ import annotations

import base64

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.html import format_html
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from . import engagement, tracking
from .models import Message

PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
NO_CACHE = {"Cache-Control": "no-store, max-age=0"}


def _message(token: str, kind: str) -> tuple[Message, int | None]:
    found = tracking.read(token, kind)
    if found is None:
        raise Http404("unknown link")
    message = Message.objects.filter(pk=found[0]).first()
    if message is None:
        raise Http404("unknown link")
    return message, found[1]


@require_GET
def open_pixel(request: HttpRequest, token: str) -> HttpResponse:
    message, _ = _message(token, tracking.OPEN)
    engagement.opened(message)
    return HttpResponse(PIXEL, content_type="image/gif", headers=NO_CACHE)


@require_GET
def click(request: HttpRequest, token: str) -> HttpResponse:
    message, index = _message(token, tracking.CLICK)
    if index is None or index >= len(message.links):
        raise Http404("unknown link")
    target = message.links[index]
    if not target.startswith(("http://", "https://")):
        raise Http404("unknown link")
    engagement.clicked(message)
    return HttpResponseRedirect(target, headers=NO_CACHE)


PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>
<meta name="robots" content="noindex"></head><body style="font-family:sans-serif;max-width:32em;
margin:4em auto">{body}</body></html>"""


@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    message, _ = _message(token, tracking.UNSUBSCRIBE)
    if request.method == "POST":
        engagement.unsubscribe(message.subject_id, message.channel, message=message)
        body = format_html(
            "<h1>Unsubscribed</h1><p>You will get no more {} from us.</p>", message.channel
        )
        return HttpResponse(PAGE.format(title="Unsubscribed", body=body), headers=NO_CACHE)
    if engagement.is_unsubscribed(message.subject_id, message.channel):
        body = format_html(
            "<h1>Unsubscribed</h1><p>You are unsubscribed from {}.</p>", message.channel
        )
    else:
        body = format_html(
            '<h1>Unsubscribe</h1><form method="post"><p>Stop receiving {} from us?</p>'
            '<button type="submit">Unsubscribe</button></form>',
            message.channel,
        )
    return HttpResponse(PAGE.format(title="Unsubscribe", body=body), headers=NO_CACHE)
