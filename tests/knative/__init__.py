"""Tests of the Knative side of kfunc deploy (manifests, validation, preflight, kube client, CLI)."""
