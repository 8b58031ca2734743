"""``python -m atai_fs.cli``: the same as the ``atai-fs`` command."""

import sys

from . import main

sys.exit(main())
