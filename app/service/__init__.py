"""Request logic without Flask: choose a creative, count a click, read stats, ingest events.

``runtime.Runtime`` holds the per-process objects (stores, caches, the impression writer, the
policies); every function here takes it as its first argument.
"""
