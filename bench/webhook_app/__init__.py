"""A bench-only Django app for ``bench/webhooks.py``: the baseline view (one INSERT) and the
settings, URLs and WSGI application that gunicorn serves, TextLink's webhooks beside it."""
