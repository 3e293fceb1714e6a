"""Running Heyun: the local launcher (``python -m deploy.run``), compose and Kubernetes files."""
