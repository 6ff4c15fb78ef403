"""WSGI entry point for gunicorn: ``gunicorn app.wsgi:app`` (``slotbandit serve`` does this)."""
from app.api.factory import create_app

app = create_app()
