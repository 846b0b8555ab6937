"""Cards, charges and gateway attempts arrive with the HOP issue."""
