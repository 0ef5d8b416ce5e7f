"""HTTP views of the test project."""

from __future__ import annotations

import hashlib
import os

from channels.layers import get_channel_layer
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt

from djproject.consumers import room_group


def hello(request: HttpRequest) -> HttpResponse:
    return HttpResponse("hello from django")


def info(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"script_name": request.META.get("SCRIPT_NAME", ""), "path": request.path})


def whoami(request: HttpRequest) -> JsonResponse:
    """What the application believes about the request (behind a proxy: the proxied facts)."""
    return JsonResponse(
        {
            "pid": os.getpid(),
            "remote_addr": request.META.get("REMOTE_ADDR", ""),
            "scheme": request.scheme,
            "secure": request.is_secure(),
            "host": request.get_host(),
        }
    )


@csrf_exempt
async def broadcast(request: HttpRequest, room: str) -> HttpResponse:
    """POST: send the request body (UTF-8 text) to everyone in ``room``."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    layer = get_channel_layer()
    assert layer is not None
    await layer.group_send(
        room_group(room),
        {"type": "room.message", "text": request.body.decode(), "from_pid": os.getpid()},
    )
    return JsonResponse({"pid": os.getpid()})


def websocket_page(request: HttpRequest) -> HttpResponse:
    """A page whose script talks to the echo and room consumers and writes what it gets."""
    return render(request, "djproject/websocket_page.html", {"room": "live"})


@csrf_exempt
def upload(request: HttpRequest) -> JsonResponse:
    """POST multipart/form-data: each file's name, size and SHA-256, and the form's fields."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    files = {}
    for name, uploaded in request.FILES.items():
        digest = hashlib.sha256()
        for chunk in uploaded.chunks():
            digest.update(chunk)
        files[name] = {"name": uploaded.name, "size": uploaded.size, "sha256": digest.hexdigest()}
    return JsonResponse({"files": files, "fields": request.POST.dict()})
