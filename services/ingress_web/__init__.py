"""ingress-web: the support form, its submission API and the ticket status page."""
