"""The WSGI application `gunicorn_wrk.py` serves (settings: `bench.server_settings`)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.server_settings")
application = get_wsgi_application()
