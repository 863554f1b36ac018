"""The reconcile engine: ordered ensure-steps that converge AWS on a resource's spec, and teardown.

Kubernetes-agnostic: it takes the resource as a plain mapping and returns the status to write, so
the operator (handlers.py) and the command line (cli.py) run the same code.
"""
