"""`python -m compute_widgets.local serve|status|stop` (what `start_server` spawns)."""

from compute_widgets.local.runtime import main

raise SystemExit(main())
