import sys

from convention.app import MIGRATIONS, Settings, build_runtime, create_app
from jumelage.cli import main

if sys.argv[1:2] == ["rebuild-progress"]:
    from convention.rebuild import rebuild_progress

    rebuild_progress(Settings, sys.argv[2:])
else:
    main(Settings, build_runtime, create_app, MIGRATIONS)
