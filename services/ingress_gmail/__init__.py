"""ingress-gmail: verified Gmail Pub/Sub pushes in; new customer mail published to ``fte.inbound.email``."""
