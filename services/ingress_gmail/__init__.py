"""ingress-gmail: Gmail Pub/Sub push notifications in (the provider integration is its own issue)."""
