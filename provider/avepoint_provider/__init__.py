"""Airflow provider for the AvePoint Graph API: the ``avepoint`` connection type, hook and operator."""

from __future__ import annotations

# The package's one version: pyproject.toml reads it (dynamic version) and so does get_provider_info.
__version__ = "1.0.0"

INTEGRATION = "AvePoint Graph API"


def get_provider_info() -> dict:
    """Provider metadata read by Airflow through the ``apache_airflow_provider`` entry point.

    ``conn-fields`` and ``ui-field-behaviour`` define the ``avepoint`` connection form
    without importing the hook.
    """
    return {
        "package-name": "airflow-provider-avepoint",
        "name": "AvePoint Graph API",
        "description": "Onboard customers to an AvePoint Elements partner account.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": INTEGRATION,
                "external-doc-url": "https://github.com/AvePoint/cloud-api",
                "tags": ["service"],
            }
        ],
        "hooks": [{"integration-name": INTEGRATION, "python-modules": ["avepoint_provider.hooks.avepoint"]}],
        "operators": [
            {"integration-name": INTEGRATION, "python-modules": ["avepoint_provider.operators.onboard"]}
        ],
        "connection-types": [
            {
                "hook-class-name": "avepoint_provider.hooks.avepoint.AvePointHook",
                "hook-name": "AvePoint Graph API",
                "connection-type": "avepoint",
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "port"],
                    "relabeling": {"host": "Graph URL", "login": "Client ID", "password": "Client secret"},
                    "placeholders": {
                        "host": "https://graph.avepointonlineservices.com (empty: the environment's URL)",
                        "login": "the app's client id from AvePoint Online Services > App registration",
                        "password": "the app's client secret (leave empty for certificate auth)",
                        "extra": '{"timeout": 30, "retry_max_attempts": 5}',
                    },
                },
                "conn-fields": {
                    "environment": {
                        "label": "Environment",
                        "description": "AvePoint cloud: commercial, gov (US Government), aos2 or fedramp. "
                        "Fills in the token URL and Graph URL when those are empty, and decides which "
                        "data centers customers may use.",
                        "schema": {
                            "type": ["string", "null"],
                            "enum": ["commercial", "gov", "aos2", "fedramp"],
                            "default": "commercial",
                        },
                    },
                    "token_url": {
                        "label": "Token URL",
                        "description": "OAuth token endpoint, e.g. "
                        "https://identity.avepointonlineservices.com/connect/token; empty: the "
                        "environment's identity service. Once saved, Airflow shows *** here (it hides "
                        "every field whose name contains 'token'); leave *** to keep the saved URL.",
                        "schema": {"type": ["string", "null"], "format": "uri"},
                    },
                    "scope": {
                        "label": "Scope",
                        "description": "Space-separated scopes to request. Onboarding needs "
                        "elements.customers.readwrite.all; the Test button and the look-ups after an "
                        "uncertain failure need elements.customers.read.all.",
                        "schema": {
                            "type": ["string", "null"],
                            "default": "elements.customers.readwrite.all elements.customers.read.all",
                        },
                    },
                    "timeout": {
                        "label": "Timeout (seconds)",
                        "description": "Seconds to wait for each request to AvePoint (default 30).",
                        "schema": {"type": ["number", "null"], "minimum": 1, "default": 30},
                    },
                    "private_key": {
                        "label": "Private key (PEM)",
                        "description": "Certificate auth, AvePoint's recommended method: the PEM private key "
                        "of the certificate uploaded to the app registration, used instead of the "
                        "client secret (leave that empty). A key pasted on one line is re-wrapped.",
                        "schema": {"type": ["string", "null"], "format": "password"},
                    },
                    "private_key_path": {
                        "label": "Private key file",
                        "description": "Path to the PEM private key on the workers (instead of pasting it).",
                        "schema": {"type": ["string", "null"]},
                    },
                    "verify": {
                        "label": "Verify TLS",
                        "description": "true (default) to verify AvePoint's certificate against the system's "
                        "trusted CAs, the path on the workers of a CA bundle to trust instead (e.g. a "
                        "TLS-inspecting proxy's CA), or false to skip verification (never in production).",
                        "schema": {"type": ["string", "null"]},
                    },
                    "cert": {
                        "label": "Client certificate file",
                        "description": "Path on the workers of a PEM client certificate (with its key) for "
                        "mutual TLS, when a proxy or gateway in front of AvePoint asks for one. Not the "
                        "app's certificate for OAuth: that is the private key above.",
                        "schema": {"type": ["string", "null"]},
                    },
                    "proxies": {
                        "label": "Proxies",
                        "description": 'Proxy URL per scheme, as JSON, e.g. {"https": "http://proxy.internal:3128"}. '
                        "Both the token and the Graph requests use it. Empty: the workers' HTTPS_PROXY / "
                        "NO_PROXY environment, if any.",
                        "schema": {"type": ["object", "null"]},
                    },
                },
            }
        ],
    }
