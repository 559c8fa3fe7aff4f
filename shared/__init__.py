"""Code every service uses: settings, bus, database, telemetry and logging."""
