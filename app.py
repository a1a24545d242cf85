#!/usr/bin/env python3
"""CDK app entry: `npx cdk synth`, `npx cdk deploy --all` (settings: cdk.json context)."""

import aws_cdk as cdk

from stacks.app_builder import build

app = cdk.App()
build(app)
app.synth()
