"""Request and response bodies of the REST API, with their limits."""
