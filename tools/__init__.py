"""Project tools that run on a developer's machine or in CI, never in a deployment."""
