"""The engine, generic over the operation kind: states, runner, monitor, the one exit-code rule."""
