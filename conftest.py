pytest_plugins = ["jumelage.testkit.plugin"]
