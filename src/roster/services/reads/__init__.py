"""Reading back what was stored: profiles, events and batches; wallets; the timeline."""
