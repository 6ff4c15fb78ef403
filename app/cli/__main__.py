"""``python -m app.cli``: the same as the ``slotbandit`` command."""
from app.cli import main

main()
