"""CDK stacks: a core stack, one stack per function, and the API stack (see app.py)."""
