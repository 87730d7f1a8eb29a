from jumelage.cli import main
from web.app import MIGRATIONS, Settings, build_runtime, create_app

main(Settings, build_runtime, create_app, MIGRATIONS)
