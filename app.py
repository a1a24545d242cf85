#!/usr/bin/env python3
"""CDK app entry: `npx cdk synth`, `npx cdk deploy --all` (settings: cdk.json context)."""

import os

# jsii (under aws-cdk-lib) prints a banner on every command while Node 20 runs it, past its
# end of life; this app is tested on Node 20 (docs/DEPLOY.md). Set before jsii starts.
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")

import aws_cdk as cdk

from stacks.app_builder import build

app = cdk.App()
build(app)
app.synth()
