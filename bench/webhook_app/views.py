"""The baseline: the least a Django view that stores a webhook can do (parse, one INSERT)."""

from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from bench.webhook_app.models import Hit


@csrf_exempt
@require_POST
def insert_one(request: HttpRequest) -> HttpResponse:
    data = json.loads(request.body)
    hit = Hit.objects.create(text=str(data.get("text", "")))
    return JsonResponse({"ok": True, "id": hit.pk})


@require_GET
def ready(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")
