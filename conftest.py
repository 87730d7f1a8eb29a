pytest_plugins = ["jumelage.testing"]
