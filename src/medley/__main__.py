from __future__ import annotations

from medley.cli import main

main()
