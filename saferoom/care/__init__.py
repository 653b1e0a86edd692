"""Care given at a site: supplies and stock, services, referrals, drug checking and alerts.

Three small apps so that each owns its records and migrations."""
