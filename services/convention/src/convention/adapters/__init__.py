"""The outside world, as every service has it. The convention service reaches
nothing outside its database and the broker (both through ``jumelage``), so it
has no adapter yet: an export or an identity-provider client would go here."""
