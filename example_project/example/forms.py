from __future__ import annotations

from django import forms

from django_textlink.phone import InvalidPhoneNumber, normalize_phone


class TestMessageForm(forms.Form):
    phone_number = forms.CharField(
        label="Phone number", help_text="International format, e.g. +12025550143."
    )
    text = forms.CharField(
        label="Message", widget=forms.Textarea(attrs={"rows": 3}), max_length=918
    )

    def clean_phone_number(self) -> str:
        try:
            return normalize_phone(self.cleaned_data["phone_number"])
        except InvalidPhoneNumber as err:
            raise forms.ValidationError(str(err)) from None
