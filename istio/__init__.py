"""Istio traffic management for kfunc functions."""
