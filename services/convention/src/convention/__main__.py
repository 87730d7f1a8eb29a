from convention.app import MIGRATIONS, Settings, build_runtime, create_app
from jumelage.cli import main

main(Settings, build_runtime, create_app, MIGRATIONS)
