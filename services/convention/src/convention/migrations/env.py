from jumelage.migrations import run_env

run_env()
