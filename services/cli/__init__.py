"""The ``asbx`` command line."""
