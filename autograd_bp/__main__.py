"""``python -m autograd_bp`` is the ``autograd-bp`` command."""

from .cli import main

raise SystemExit(main())
