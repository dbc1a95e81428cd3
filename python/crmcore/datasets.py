"""Realistic synthetic CRM data (placeholder until it lands)."""
