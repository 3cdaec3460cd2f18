"""The simulated instruments' command interpreters, one module per model."""
