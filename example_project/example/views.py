from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from django_textlink.backends import get_backend, load_backend_class
from django_textlink.backends.simulated import SimulatedBackend
from django_textlink.conf import conf
from django_textlink.exceptions import TextLinkError
from example.forms import TestMessageForm


def home(request: HttpRequest) -> HttpResponse:
    backend_class = load_backend_class()
    simulated = issubclass(backend_class, SimulatedBackend)
    # Sending through the real backend costs money: only staff may try it.
    can_send = simulated or request.user.is_staff
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
            "base_url": conf.BASE_URL,
            "can_send": can_send,
            "form": form,
        },
    )
