"""Local tools: the embedded runtime, the demo, the scaffold, the drift-alert CLI and the REST client."""
