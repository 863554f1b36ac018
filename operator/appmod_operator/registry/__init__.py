"""Container images: a small OCI distribution (registry HTTP API v2) client, the daemonless copy into
ECR built on it, reading a file out of an image's layers, and the Docker-engine backend.
Imports neither kopf nor boto3; called by reconcile/image.py and the benchmarks.
"""
