"""Helpers the tests (and the bench) import like any module; fixtures stay in conftest files."""
