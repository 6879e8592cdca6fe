"""``python -m bench``: pin to one thread first, then run the suite."""

from bench._threads import pin_single_thread

pin_single_thread()

from bench.run import main  # noqa: E402  (after the thread variables are set)

raise SystemExit(main())
