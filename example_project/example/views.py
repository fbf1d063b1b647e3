from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from django_textlink.backends import get_backend, load_backend_class
from django_textlink.backends.simulated import SimulatedBackend
from django_textlink.conf import conf
from django_textlink.exceptions import TextLinkError
from example.forms import TestMessageForm

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def home(request: HttpRequest) -> HttpResponse:
    backend_class = load_backend_class()
    simulated = issubclass(backend_class, SimulatedBackend)
    # The HTTP backend pointed at the offline sandbox (`make demo`): nothing leaves the machine.
    # Only a sandbox on this machine counts (a mistyped TEXTLINK_SANDBOX_URL could otherwise
    # let anyone send real SMS with the form below).
    sandbox_url: str = getattr(settings, "TEXTLINK_SANDBOX_URL", "")
    sandbox = bool(
        not simulated
        and urlsplit(sandbox_url).hostname in LOOPBACK
        and conf.BASE_URL.rstrip("/") == f"{sandbox_url}/api"
    )
    # Sending through real TextLink costs money: only staff may try it.
    can_send = simulated or sandbox or request.user.is_staff
    form = TestMessageForm(request.POST or None)
    if request.method == "POST" and can_send and form.is_valid():
        try:
            result = get_backend().send_sms(
                form.cleaned_data["phone_number"], form.cleaned_data["text"]
            )
        except TextLinkError as err:
            messages.error(request, f"TextLink refused the message: {err}")
        else:
            state = "queued by TextLink" if result.queued else "accepted"
            messages.success(request, f"Message {state}.")
            return redirect("home")
    return render(
        request,
        "example/home.html",
        {
            "backend_name": backend_class.__name__,
            "simulated": simulated,
            "sandbox": sandbox,
            "sandbox_url": sandbox_url,
            "tasks": getattr(settings, "TEXTLINK_TASKS", "immediate"),
            "base_url": conf.BASE_URL,
            "can_send": can_send,
            "form": form,
        },
    )
