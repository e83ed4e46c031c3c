"""Knative side of ``kfunc deploy``: manifests, CRD and webhook validation, feature preflight, kube client."""
