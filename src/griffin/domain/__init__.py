"""Griffin domain logic: pure rules and types with no I/O."""
