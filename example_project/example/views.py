from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe

import django_textlink
from django_textlink.backends import load_backend_class
from django_textlink.backends.simulated import SimulatedBackend
from django_textlink.conf import conf
from django_textlink.exceptions import TextLinkError
from example.forms import TestMessageForm
from example.management.commands.demo_setup import DEMO_TAG

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
            # As a site sends: the message is stored (Admin > SMS messages), then sent.
            message = django_textlink.send_sms(
                form.cleaned_data["phone_number"], form.cleaned_data["text"]
            )
        except TextLinkError as err:  # the stored message says "failed" (or "unknown")
            messages.error(request, f"TextLink refused the message: {err}")
        else:
            state = "queued by TextLink" if message.queued_by_textlink else "accepted"
            messages.success(request, f"Message {state}.")
            return redirect("home")
    # Step 2 of what to try: the demo contacts in the admin, as its "By tag" filter links
    # them (ContactAdmin.list_filter "tag": ?tag=demo), and the way there for a signed-in
    # visitor who is not staff (the admin would only say "not authorized").
    contacts_url = reverse("admin:django_textlink_contact_changelist")
    demo_contacts_url = f"{contacts_url}?{urlencode({'tag': DEMO_TAG})}"
    staff_login_url = f"{reverse('admin:login')}?{urlencode({'next': demo_contacts_url})}"
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
            "demo_contacts_url": demo_contacts_url,
            "staff_login_url": staff_login_url,
        },
    )


#: The site's icon (a speech bubble), so that browsers asking for /favicon.ico get one.
FAVICON = (
    b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">'
    b'<rect width="32" height="32" rx="7" fill="#0b57d0"/>'
    b'<path d="M7 8h18a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H14l-6 5v-5H7a2 2 0 0 1-2-2V10a2 2 0 0 1 '
    b'2-2z" fill="#fff"/></svg>'
)


@require_safe
@cache_control(max_age=86400, public=True)
def favicon(request: HttpRequest) -> HttpResponse:
    return HttpResponse(FAVICON, content_type="image/svg+xml")
