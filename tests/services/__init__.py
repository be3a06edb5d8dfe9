"""Real servers started by the test suite itself on 127.0.0.1 (design/test-services.md)."""
