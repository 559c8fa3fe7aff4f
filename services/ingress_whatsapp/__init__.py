"""ingress-whatsapp: Twilio WhatsApp webhooks in (customer messages and delivery status callbacks)."""
