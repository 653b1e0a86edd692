"""Reports: the indicator registry, periods in a site's calendar, rollups and exports."""
