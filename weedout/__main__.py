import sys

from . import interruption

try:
    from .cli import main
except KeyboardInterrupt:  # Ctrl-C while torch and pandas import: one line, not a traceback
    sys.exit(interruption.report(interruption.STARTUP, interruption.NOTHING_SAVED, sys.argv[1:]))

sys.exit(main())
