"""The HTTP service: ``factory.create_app`` wires settings, runtime, error handlers and blueprints.

Importing this package loads nothing else, so ``slotbandit serve`` can import ``app.api.server``
in the gunicorn master without loading the app (and prometheus_client) before the workers fork.
"""
