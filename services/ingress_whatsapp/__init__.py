"""ingress-whatsapp: Twilio WhatsApp webhooks in (the provider integration is its own issue)."""
