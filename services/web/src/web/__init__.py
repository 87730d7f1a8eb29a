"""Jumelage web app: pages over the three services' HTTP APIs; owns no domain data."""
