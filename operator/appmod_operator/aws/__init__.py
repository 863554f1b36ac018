"""The only code that talks to AWS (boto3): thin find/create/modify/delete functions per service.

Each function makes one or a few calls and translates botocore's errors into `errors.AwsError`
(see clients.py); deciding what to do with the answers is reconcile/'s job.
"""
