"""The inside of the service: plain Python and pydantic, no I/O."""
